package files

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"syscall"
	"testing"
	"time"
)

// wav16 builds a 16-bit PCM WAV at 8 kHz from interleaved samples.
func wav16(channels int, samples []int16) []byte {
	var b bytes.Buffer
	data := len(samples) * 2
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+data))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(channels), uint32(8000), uint32(8000 * 2 * channels), uint16(2 * channels), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(data))
	binary.Write(&b, binary.LittleEndian, samples)
	return b.Bytes()
}

func TestPeaks(t *testing.T) {
	// 1 s silence, 1 s full-scale tone, 1 s half-scale, mono.
	s := make([]int16, 24000)
	for i := 8000; i < 16000; i++ {
		s[i] = int16(32767 * math.Sin(float64(i)*0.3))
	}
	for i := 16000; i < 24000; i++ {
		s[i] = int16(16384 * math.Sin(float64(i)*0.3))
	}
	w := wav16(1, s)
	p, err := Peaks(bytes.NewReader(w), int64(len(w)), 3)
	if err != nil {
		t.Fatal(err)
	}
	if p[0] != 0 || p[1] < 250 || p[2] < 120 || p[2] > 135 {
		t.Fatalf("peaks %v", p)
	}
	// Stereo: the louder channel counts; a header that claims more data than the file has is cut.
	st := make([]int16, 16000)
	for i := 1; i < 8000; i += 2 {
		st[i] = -32768
	}
	w = wav16(2, st)
	binary.LittleEndian.PutUint32(w[40:], 0xFFFFFFF0)
	p, err = Peaks(bytes.NewReader(w), int64(len(w)), 4)
	if err != nil {
		t.Fatal(err)
	}
	if p[0] != 255 || p[1] != 255 || p[2] != 0 || p[3] != 0 {
		t.Fatalf("stereo peaks %v", p)
	}
	// Per lane: the loud samples are all on the right (odd indexes), the left stays silent; a
	// quieter left channel shows in the left lane only.
	for i := 0; i < 4000; i += 2 {
		st[i] = 16384
	}
	w = wav16(2, st)
	lp, err := LanePeaks(bytes.NewReader(w), int64(len(w)), 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(lp) != 8 || lp[0] < 127 || lp[0] > 129 || lp[1] != 0 || lp[2] != 0 || lp[4] != 255 || lp[5] != 255 || lp[6] != 0 {
		t.Fatalf("stereo lane peaks %v", lp)
	}
	if ls := Lanes(lp, 4); len(ls) != 2 || ls[1][0] != 255 || ls[0][0] != lp[0] {
		t.Fatalf("lanes %v", ls)
	}
	if mx := Mixed(lp, 4); mx[0] != 255 || mx[1] != 255 || mx[2] != 0 {
		t.Fatalf("mixed %v", mx)
	}
	// A mono file's lane peaks are its peaks: one lane.
	mono := wav16(1, st[:8000])
	mp, _ := Peaks(bytes.NewReader(mono), int64(len(mono)), 4)
	ml, _ := LanePeaks(bytes.NewReader(mono), int64(len(mono)), 4)
	if !bytes.Equal(mp, ml) || len(Lanes(ml, 4)) != 1 {
		t.Fatalf("mono lane peaks %v, peaks %v", ml, mp)
	}
	for _, bad := range [][]byte{nil, []byte("RIFF1234WAVE"), append([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x03\x00"), make([]byte, 14)...)} {
		if _, err := Peaks(bytes.NewReader(bad), int64(len(bad)), 10); !errors.Is(err, ErrNotPCM16) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// BenchmarkPeaks60Min computes the peaks of a 60-minute mono recording (8 kHz, 16 bit, 57.6 MB).
func BenchmarkPeaks60Min(b *testing.B) {
	s := make([]int16, 60*60*8000)
	for i := range s {
		s[i] = int16(i * 7919)
	}
	w := wav16(1, s)
	b.SetBytes(int64(len(w)))
	cpu := cpuTime()
	for b.Loop() {
		if _, err := Peaks(bytes.NewReader(w), int64(len(w)), 1000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkStereo60Min computes a 60-minute stereo recording's waveform (8 kHz, 16 bit, 115 MB)
// as one lane (Peaks) and as a lane per side (LanePeaks, what a recording keeps), in one run so
// their ratio holds on a busy machine.
func BenchmarkStereo60Min(b *testing.B) {
	s := make([]int16, 2*60*60*8000)
	for i := range s {
		s[i] = int16(i * 7919)
	}
	w := wav16(2, s)
	for _, c := range []struct {
		name string
		f    func(io.Reader, int64, int) ([]byte, error)
	}{{"Peaks", Peaks}, {"LanePeaks", LanePeaks}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(w)))
			cpu := cpuTime()
			for b.Loop() {
				if _, err := c.f(bytes.NewReader(w), int64(len(w)), 1000); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's CPU time: on a machine shared with other work, wall time per op
// grows with the load, CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPeaks60MinFile is the same from a file of the tree (page cache warm after the first
// run), as the recording page computes it.
func BenchmarkPeaks60MinFile(b *testing.B) {
	s := make([]int16, 60*60*8000)
	for i := range s {
		s[i] = int16(i * 7919)
	}
	dir := b.TempDir()
	tree, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer tree.Close()
	f, err := tree.Create("call_recording/1/2/rec.wav")
	if err != nil {
		b.Fatal(err)
	}
	w := wav16(1, s)
	if _, err := f.Write(w); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.SetBytes(int64(len(w)))
	cpu := cpuTime()
	for b.Loop() {
		f, err := tree.Open("call_recording/1/2/rec.wav")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Peaks(f, int64(len(w)), 1000); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}
