package audio

import (
	"bytes"
	"io"
	"math"
	"testing"
)

// convertTap converts an in-memory WAV and returns the normalised float output before dither
// and the bytes written.
func convertTap(t *testing.T, in []byte) ([]float32, []byte) {
	t.Helper()
	var tapped []float32
	var out writeSeekBuffer
	_, err := Convert(bytes.NewReader(in), &out, ConvertOptions{tap: func(b []float32) {
		tapped = append(tapped, b...)
	}})
	if err != nil {
		t.Fatal(err)
	}
	return tapped, out.Bytes()
}

// amplitude of the component at freq in x (rate Hz), by correlation over whole cycles. Tones in
// these tests sit on exact bins of a one-second window, so there is no leakage to window away.
func amplitude(x []float32, rate int, freq float64) float64 {
	var re, im float64
	for i, v := range x {
		ph := 2 * math.Pi * freq * float64(i) / float64(rate)
		re += float64(v) * math.Cos(ph)
		im += float64(v) * math.Sin(ph)
	}
	return 2 * math.Hypot(re, im) / float64(len(x))
}

func db(x float64) float64 { return 20 * math.Log10(x) }

// mid returns the middle second of a stream, away from the filter's start and end transients.
func mid(x []float32, rate int) []float32 {
	s := (len(x) - rate) / 2
	return x[s : s+rate]
}

func sum(a, b [][]float64) [][]float64 {
	out := make([][]float64, len(a))
	for i := range a {
		out[i] = make([]float64, len(a[i]))
		for c := range a[i] {
			out[i][c] = a[i][c] + b[i][c]
		}
	}
	return out
}

// A tone above the output's Nyquist frequency must not come back as an alias in the speech band.
func TestAliasRejection(t *testing.T) {
	for _, rate := range []int{48000, 44100} {
		for _, f := range []float64{9000, 10000, 12000, 20000} {
			n := 3 * rate
			in := wavBytes(wavePCM, 0, 16, rate, sum(tone(n, rate, 2, 1000, 0.45), tone(n, rate, 2, f, 0.45)))
			y, _ := convertTap(t, in)
			m := mid(y, TargetRate)
			ref := amplitude(m, TargetRate, 1000)
			alias := math.Abs(TargetRate - f)
			if f > 16000 {
				alias = math.Abs(f - 16000)
			}
			rej := db(amplitude(m, TargetRate, alias) / ref)
			t.Logf("%d Hz input, %.0f Hz tone: alias at %.0f Hz %.1f dB", rate, f, alias, rej)
			if rej > -90 {
				t.Errorf("%d Hz input: %.0f Hz aliases to %.0f Hz at %.1f dB, want <= -90", rate, f, alias, rej)
			}
		}
	}
}

func TestPassbandFlat(t *testing.T) {
	freqs := []float64{100, 300, 1000, 2000, 3000, 3400, 4000, 5000, 6000, 6500, 7000}
	// Below 16 kHz the input's own band is the limit: flat to 0.85 of its Nyquist frequency
	// (3.4 kHz for telephone audio at 8 kHz).
	inBand := func(f float64, rate int) bool {
		if rate < TargetRate {
			return f <= 0.85*float64(rate)/2
		}
		return f < float64(rate)/2
	}
	for _, rate := range []int{48000, 44100, 16000, 22050, 96000, 8000, 11025, 12000} {
		n := 3 * rate
		var in [][]float64
		for _, f := range freqs {
			if !inBand(f, rate) {
				continue
			}
			tn := tone(n, rate, 1, f, 0.09)
			if in == nil {
				in = tn
			} else {
				in = sum(in, tn)
			}
		}
		y, _ := convertTap(t, wavBytes(waveFloat, 0, 32, rate, in))
		m := mid(y, TargetRate)
		ref := amplitude(m, TargetRate, 1000)
		for _, f := range freqs {
			if !inBand(f, rate) {
				continue
			}
			g := db(amplitude(m, TargetRate, f) / ref)
			if math.Abs(g) > 1 {
				t.Errorf("%d Hz input: %.0f Hz at %.2f dB relative to 1 kHz, want within 1 dB", rate, f, g)
			}
		}
	}
}

// thdN is the power of everything but the fitted tone relative to the tone, in dB.
func thdN(x []float32, rate int, f float64) float64 {
	var re, im float64
	for i, v := range x {
		ph := 2 * math.Pi * f * float64(i) / float64(rate)
		re += float64(v) * math.Cos(ph)
		im += float64(v) * math.Sin(ph)
	}
	re, im = 2*re/float64(len(x)), 2*im/float64(len(x))
	var sig, res float64
	for i, v := range x {
		ph := 2 * math.Pi * f * float64(i) / float64(rate)
		s := re*math.Cos(ph) + im*math.Sin(ph)
		sig += s * s
		d := float64(v) - s
		res += d * d
	}
	return 10 * math.Log10(res/sig)
}

func TestTHDNAndLevel(t *testing.T) {
	for _, rate := range []int{48000, 44100, 16000, 8000, 22050} {
		n := 3 * rate
		y, out := convertTap(t, wavBytes(wavePCM, 0, 16, rate, tone(n, rate, 2, 1000, 0.5)))
		v := thdN(mid(y, TargetRate), TargetRate, 1000)
		t.Logf("%d Hz: THD+N %.1f dB", rate, v)
		if v > -70 {
			t.Errorf("%d Hz input: THD+N %.1f dB, want below -70", rate, v)
		}
		var peak float64
		for _, s := range y {
			peak = math.Max(peak, math.Abs(float64(s)))
		}
		if math.Abs(db(peak)+1) > 0.01 {
			t.Errorf("%d Hz input: peak %.3f dBFS, want -1", rate, db(peak))
		}
		want := int64(n) * TargetRate / int64(rate)
		if got := int64(len(y)); got < want-2 || got > want+2 {
			t.Errorf("%d Hz input: %d output samples, want %d±2", rate, got, want)
		}
		f, err := Probe(bytes.NewReader(out))
		if err != nil || !IsTarget(f) || f.Frames != int64(len(y)) {
			t.Errorf("%d Hz input: output %+v, %v", rate, f, err)
		}
		// The byte peak is -1 dBFS of 128 plus at most one step of dither.
		var bp int
		for _, b := range out[44:] {
			bp = max(bp, abs(int(b)-128))
		}
		if bp < 112 || bp > 116 {
			t.Errorf("%d Hz input: byte peak %d, want about 114", rate, bp)
		}
	}
}

// Upsampling from 8 kHz must not mirror the band into 4-8 kHz.
func TestUpsampleImages(t *testing.T) {
	n := 3 * 8000
	y, _ := convertTap(t, wavBytes(wavePCM, 0, 16, 8000, tone(n, 8000, 1, 3000, 0.5)))
	m := mid(y, TargetRate)
	img := db(amplitude(m, TargetRate, 5000) / amplitude(m, TargetRate, 3000))
	if img > -60 {
		t.Errorf("image of 3 kHz at 5 kHz: %.1f dB, want <= -60", img)
	}
}

// 16 kHz input is copied: the output is the input scaled, with no filter in between.
func TestPassThrough16k(t *testing.T) {
	src := tone(1000, 16000, 1, 1234, 0.25)
	y, _ := convertTap(t, wavBytes(waveFloat, 0, 32, 16000, src))
	if len(y) != len(src) {
		t.Fatalf("%d samples, want %d", len(y), len(src))
	}
	var peak float64
	for _, fr := range src {
		peak = math.Max(peak, math.Abs(fr[0]))
	}
	g := float64(peakTarget) / float64(float32(peak))
	for i, fr := range src {
		if d := math.Abs(float64(y[i]) - fr[0]*g); d > 1e-5 {
			t.Fatalf("sample %d: %v, want %v", i, y[i], fr[0]*g)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// writeSeekBuffer is an in-memory io.WriteSeeker.
type writeSeekBuffer struct {
	b   []byte
	pos int
}

func (w *writeSeekBuffer) Write(p []byte) (int, error) {
	if end := w.pos + len(p); end > len(w.b) {
		w.b = append(w.b, make([]byte, end-len(w.b))...)
	}
	copy(w.b[w.pos:], p)
	w.pos += len(p)
	return len(p), nil
}

func (w *writeSeekBuffer) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		w.pos = int(off)
	case io.SeekCurrent:
		w.pos += int(off)
	case io.SeekEnd:
		w.pos = len(w.b) + int(off)
	}
	return int64(w.pos), nil
}

func (w *writeSeekBuffer) Bytes() []byte { return w.b }
