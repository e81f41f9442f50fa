package dtmf

import (
	"math"
	"math/rand/v2"
	"testing"

	"callrec/internal/testtool"
	"callrec/media/audio"
)

const rate = 8000

// tone appends ms milliseconds of the key's tone pair; amplitudes per tone, frequencies
// scaled by (1+dev).
func tone(buf []float64, key byte, rowAmp, colAmp float64, ms int, dev float64) []float64 {
	var r, c int
	for i := range 4 {
		for j := range 4 {
			if keypad[i][j] == key {
				r, c = i, j
			}
		}
	}
	fr, fc := rowFreqs[r]*(1+dev), colFreqs[c]*(1+dev)
	n := ms * rate / 1000
	for i := range n {
		t := float64(i) / rate
		buf = append(buf, rowAmp*math.Sin(2*math.Pi*fr*t)+colAmp*math.Sin(2*math.Pi*fc*t+0.7))
	}
	return buf
}

func silence(buf []float64, ms int) []float64 {
	return append(buf, make([]float64, ms*rate/1000)...)
}

func pcm16(f []float64) []int16 {
	out := make([]int16, len(f))
	for i, v := range f {
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}

// detect feeds pcm in frames of the given sizes (cycled) and returns every key reported.
func detect(pcm []int16, frames ...int) string {
	d := NewInband(rate)
	var got []byte
	for i, k := 0, 0; i < len(pcm); k++ {
		n := min(frames[k%len(frames)], len(pcm)-i)
		if key, ok := d.Feed(pcm[i : i+n]); ok {
			got = append(got, key)
		}
		i += n
	}
	for { // drain keys queued by a long last frame
		key, ok := d.Feed(nil)
		if !ok {
			break
		}
		got = append(got, key)
	}
	return string(got)
}

func TestInbandAllDigits(t *testing.T) {
	var sig []float64
	for i := range len(digits) {
		sig = tone(sig, digits[i], 6000, 7000, 60, 0)
		sig = silence(sig, 60)
	}
	pcm := pcm16(sig)
	for _, frames := range [][]int{{80}, {160}, {240}, {480}, {7}, {160, 240, 80, 480, 13}, {len(pcm)}} {
		if got := detect(pcm, frames...); got != digits {
			t.Errorf("frames %v: got %q, want %q", frames, got, digits)
		}
	}
}

func TestInbandWithNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var sig []float64
	for i := range len(digits) {
		sig = tone(sig, digits[i], 3000, 3500, 70, 0)
		sig = silence(sig, 70)
	}
	// White noise at about 15 dB below the tone pair.
	for i := range sig {
		sig[i] += rng.NormFloat64() * 800
	}
	if got := detect(pcm16(sig), 160); got != digits {
		t.Fatalf("got %q, want %q", got, digits)
	}
}

func TestInbandDuration(t *testing.T) {
	for off := range windowAt8k {
		sig := silence(nil, 0)
		sig = append(sig, make([]float64, off)...)
		sig = tone(sig, '5', 5000, 5000, 35, 0)
		sig = silence(sig, 50)
		if got := detect(pcm16(sig), 160); got != "5" {
			t.Errorf("35 ms tone at offset %d: got %q", off, got)
		}
		sig = append(make([]float64, off), tone(nil, '5', 5000, 5000, 23, 0)...)
		sig = silence(sig, 50)
		if got := detect(pcm16(sig), 160); got != "" {
			t.Errorf("23 ms tone at offset %d: got %q", off, got)
		}
	}
}

func TestInbandGapAndDropout(t *testing.T) {
	// Same key twice with a 40 ms pause: two presses.
	sig := tone(nil, '7', 5000, 5000, 80, 0)
	sig = silence(sig, 40)
	sig = tone(sig, '7', 5000, 5000, 80, 0)
	sig = silence(sig, 40)
	if got := detect(pcm16(sig), 160); got != "77" {
		t.Errorf("with pause: got %q", got)
	}
	// A 10 ms dropout inside a long tone: one press.
	sig = tone(nil, '7', 5000, 5000, 200, 0)
	sig = silence(sig, 10)
	sig = tone(sig, '7', 5000, 5000, 200, 0)
	if got := detect(pcm16(sig), 160); got != "7" {
		t.Errorf("with dropout: got %q", got)
	}
	// A held key: one press.
	if got := detect(pcm16(tone(nil, '#', 5000, 5000, 3000, 0)), 160); got != "#" {
		t.Errorf("held key: got %q", got)
	}
	// Different keys back to back without a pause still count.
	sig = tone(nil, '1', 5000, 5000, 80, 0)
	sig = tone(sig, '2', 5000, 5000, 80, 0)
	if got := detect(pcm16(sig), 160); got != "12" {
		t.Errorf("back to back: got %q", got)
	}
}

func TestInbandTwistLevelDeviation(t *testing.T) {
	db := func(a float64, d float64) float64 { return a * math.Pow(10, d/20) }
	for _, c := range []struct {
		name     string
		row, col float64
		dev      float64
		want     string
	}{
		{"column 6 dB louder", 2000, db(2000, 6), 0, "9"},
		{"row 3 dB louder", db(2000, 3), 2000, 0, "9"},
		{"column 10 dB louder", 2000, db(2000, 10), 0, ""},
		{"row 6 dB louder", db(2000, 6), 2000, 0, ""},
		{"-30 dBm0 per tone", 720, 720, 0, "9"},
		{"below minimum level", 150, 150, 0, ""},
		{"+1.5 %", 5000, 5000, 0.015, "9"},
		{"-1.5 %", 5000, 5000, -0.015, "9"},
		{"+5 %", 5000, 5000, 0.05, ""},
	} {
		sig := tone(nil, '9', c.row, c.col, 80, c.dev)
		sig = silence(sig, 50)
		if got := detect(pcm16(sig), 160); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestInbandNoFalseTriggers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 4 * rate
	signals := map[string][]float64{}

	sine := make([]float64, n)
	for i := range sine {
		sine[i] = 10000 * math.Sin(2*math.Pi*1000*float64(i)/rate)
	}
	signals["1 kHz sine"] = sine

	// Linear sweeps 300-3400 Hz, slow and fast, and a two-tone sweep a semitone apart.
	for _, secs := range []float64{0.5, 4} {
		sw := make([]float64, n)
		ph := 0.0
		for i := range sw {
			f := 300 + 3100*math.Mod(float64(i)/rate/secs, 1)
			ph += 2 * math.Pi * f / rate
			sw[i] = 10000 * math.Sin(ph)
		}
		signals["sweep "+string(rune('0'+int(secs)))] = sw
	}

	noise := make([]float64, n)
	for i := range noise {
		noise[i] = rng.NormFloat64() * 5000
	}
	signals["white noise"] = noise

	// Voiced speech: harmonics of a gliding 90-220 Hz pitch through two moving formants,
	// in syllables with pauses.
	speech := make([]float64, n)
	ph := 0.0
	for i := range speech {
		t := float64(i) / rate
		f0 := 155 + 65*math.Sin(2*math.Pi*0.7*t)
		ph += 2 * math.Pi * f0 / rate
		f1 := 500 + 300*math.Sin(2*math.Pi*1.3*t)
		f2 := 1500 + 700*math.Sin(2*math.Pi*0.9*t+1)
		var v float64
		for h := 1; h*int(f0) < 3400; h++ {
			fh := float64(h) * f0
			g := math.Exp(-sq((fh-f1)/150)) + 0.6*math.Exp(-sq((fh-f2)/200)) + 0.05
			v += g * math.Sin(float64(h)*ph)
		}
		env := math.Max(0, math.Sin(2*math.Pi*3*t)) // ~6 syllables a second
		speech[i] = 6000 * env * v / 3
	}
	signals["speech-like"] = speech

	for name, sig := range signals {
		if got := detect(pcm16(sig), 160); got != "" {
			t.Errorf("%s: false digits %q", name, got)
		}
	}
}

func sq(x float64) float64 { return x * x }

func TestInbandOtherRate(t *testing.T) {
	// 16 kHz (G.722-style legs): the window scales with the rate.
	d := NewInband(16000)
	var got []byte
	buf := make([]int16, 320)
	for i := range 40 {
		for j := range buf {
			tt := float64(i*320+j) / 16000
			if i < 5 {
				buf[j] = int16(5000*math.Sin(2*math.Pi*852*tt) + 5000*math.Sin(2*math.Pi*1477*tt))
			} else {
				buf[j] = 0
			}
		}
		if k, ok := d.Feed(buf); ok {
			got = append(got, k)
		}
	}
	if string(got) != "9" {
		t.Fatalf("got %q", got)
	}
}

func TestInbandNoAlloc(t *testing.T) {
	d := NewInband(rate)
	frame := pcm16(tone(nil, '3', 5000, 5000, 20, 0))
	if n := testing.AllocsPerRun(200, func() { d.Feed(frame) }); n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}

// Benchmarks process one second of audio in 20 ms frames: the cost per leg-second.
func benchInband(b *testing.B, sig []float64) {
	pcm := pcm16(sig)
	d := NewInband(rate)
	b.ReportAllocs()
	cpu := testtool.ProcessCPU()
	for b.Loop() {
		for i := 0; i+160 <= len(pcm); i += 160 {
			d.Feed(pcm[i : i+160])
		}
	}
	testtool.ReportCPU(b, cpu)
}

func BenchmarkInbandSecondSilence(b *testing.B) { benchInband(b, silence(nil, 1000)) }

func BenchmarkInbandSecondTone(b *testing.B) { benchInband(b, tone(nil, '5', 5000, 5000, 1000, 0)) }

func BenchmarkInbandSecondNoise(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	sig := make([]float64, rate)
	for i := range sig {
		sig[i] = rng.NormFloat64() * 3000
	}
	benchInband(b, sig)
}

// BenchmarkGoertzel4 is one pass of four filters over a 12.75 ms window.
func BenchmarkGoertzel4(b *testing.B) {
	d := NewInband(rate)
	win := pcm16(tone(nil, '5', 5000, 5000, 13, 0))[:d.n]
	var p [4]float64
	for b.Loop() {
		goertzel4(win, (*[4]float64)(d.coef[:4]), &p)
	}
}

// Tones that crossed a G.711 leg carry its quantisation noise; both laws must still work,
// at a quiet level too (-25 dBm0 per tone is about amplitude 1280).
func TestInbandThroughG711(t *testing.T) {
	var sig []float64
	for i := range len(digits) {
		sig = tone(sig, digits[i], 1280, 1600, 50, 0)
		sig = silence(sig, 50)
	}
	pcm := pcm16(sig)
	enc := make([]byte, len(pcm))
	for _, law := range []struct {
		name string
		enc  func([]byte, []int16)
		dec  func([]int16, []byte)
	}{{"mu-law", audio.ULawEncode, audio.ULawDecode}, {"A-law", audio.ALawEncode, audio.ALawDecode}} {
		out := make([]int16, len(pcm))
		law.enc(enc, pcm)
		law.dec(out, enc)
		if got := detect(out, 160); got != digits {
			t.Errorf("%s: got %q", law.name, got)
		}
	}
}
