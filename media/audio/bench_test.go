//go:build unix

package audio

import (
	"bytes"
	"testing"

	"callrec/internal/testtool"
)

func BenchmarkNewResampler(b *testing.B) {
	for _, r := range []int{48000, 44100, 8000, 191999} {
		b.Run(itoa(r), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				newFilter(r, TargetRate) // uncached: the cost of a first conversion at this rate
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// BenchmarkConvert48kStereo converts ten seconds of 48 kHz stereo 16-bit WAV; bytes/s is input
// bytes, so 10 minutes take 60x the time per op.
func BenchmarkConvert48kStereo(b *testing.B) {
	benchConvert(b, 48000, 2)
}

func BenchmarkConvert44kStereo(b *testing.B) {
	benchConvert(b, 44100, 2)
}

func BenchmarkConvert8kMono(b *testing.B) {
	benchConvert(b, 8000, 1)
}

func benchConvert(b *testing.B, rate, ch int) {
	in := wavBytes(wavePCM, 0, 16, rate, tone(10*rate, rate, ch, 1000, 0.5))
	var out writeSeekBuffer
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	c0 := testtool.ProcessCPU()
	for i := 0; i < b.N; i++ {
		out.pos = 0
		if _, err := Convert(bytes.NewReader(in), &out, ConvertOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	// On a shared machine wall time mostly measures the neighbours; CPU time is ours.
	testtool.ReportCPU(b, c0)
}
