package recorder

import (
	"os"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// benchCallSeconds measures one call-second: 50 packets of 20 ms in each direction, each
// followed by an Advance as the engine's ticker would, writing to a real file.
func benchCallSeconds(b *testing.B, stereo bool) {
	root, err := os.OpenRoot(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	r, _, err := Create(root, "bench", "rec", Options{Stereo: stereo, Start: t0})
	if err != nil {
		b.Fatal(err)
	}
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 100)
	}
	b.ReportAllocs()
	k := 0
	cpu := testtool.ProcessCPU()
	for b.Loop() {
		for range 50 {
			at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
			r.Put(Caller, 1, uint32(k*160), pcm, at)
			r.Put(Callee, 2, uint32(k*160), pcm, at)
			r.Advance(at)
			k++
		}
	}
	testtool.ReportCPU(b, cpu)
	b.StopTimer()
	if _, err := r.Close(t0.Add(time.Duration(k) * 20 * time.Millisecond)); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCallSecondMono(b *testing.B)   { benchCallSeconds(b, false) }
func BenchmarkCallSecondStereo(b *testing.B) { benchCallSeconds(b, true) }

// BenchmarkPut is the per-packet cost alone.
func BenchmarkPut(b *testing.B) {
	root, err := os.OpenRoot(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	r, _, err := Create(root, "bench", "rec", Options{Start: t0})
	if err != nil {
		b.Fatal(err)
	}
	pcm := make([]int16, 160)
	k := 0
	for b.Loop() {
		at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		r.Put(Caller, 1, uint32(k*160), pcm, at)
		if k%50 == 49 {
			b.StopTimer()
			r.Advance(at)
			b.StartTimer()
		}
		k++
	}
}

// BenchmarkCreateClose reports the memory one recording holds (rings, buffers).
func BenchmarkCreateClose(b *testing.B) {
	root, err := os.OpenRoot(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	b.ReportAllocs()
	for b.Loop() {
		r, rel, err := Create(root, "bench", "rec", Options{Start: t0})
		if err != nil {
			b.Fatal(err)
		}
		r.Close(t0)
		root.Remove(rel)
	}
}
