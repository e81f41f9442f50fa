package recorder

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// soxSamples asks sox for the file's length in frames (sox calls them samples) and makes it
// compute statistics over all of it.
func soxSamples(t *testing.T, sox, path string) int64 {
	t.Helper()
	out, err := exec.Command(sox, "--i", path).CombinedOutput()
	if err != nil {
		t.Fatalf("sox --i: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`= (\d+) samples`).FindSubmatch(out)
	if m == nil { // sox prints no duration for an empty data chunk
		return 0
	}
	if out, err := exec.Command(sox, path, "-n", "stat").CombinedOutput(); err != nil {
		t.Fatalf("sox stat: %v\n%s", err, out)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// TestCrashLeavesPlayableFile stops a recording without Close, as kill -9 would, and reads
// the file as it is on disk while the recorder still holds it open.
func TestCrashLeavesPlayableFile(t *testing.T) {
	sox := testtool.Need(t, "sox", "sox")
	r, path := newRec(t, Options{Stereo: true, Start: t0})
	tone := slices.Repeat([]int16{3000, -3000}, 80)
	// Right after Create: a valid empty file.
	if n := soxSamples(t, sox, path); n != 0 {
		t.Fatalf("fresh file: sox sees %d samples", n)
	}
	k := 0
	feed := func(until time.Duration) {
		for ; time.Duration(k)*20*time.Millisecond <= until; k++ {
			at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
			r.Put(Caller, 1, uint32(k*160), tone, at)
			r.Put(Callee, 2, uint32(k*160), tone, at)
			r.Advance(at)
			r.waitWriter() // as the writer would keep up with an idle disk
		}
	}
	feed(2500 * time.Millisecond)
	// The header was last rewritten when 2 s were written (FlushEvery 1 s).
	_, pcm := readWAV(t, path)
	if len(pcm) != 2*16000 {
		t.Fatalf("after 2.5 s: header declares %d frames, want 16000", len(pcm)/2)
	}
	if n := soxSamples(t, sox, path); n != 16000 {
		t.Fatalf("sox sees %d frames, want 16000", n)
	}
	for i, v := range pcm[:2*8000] {
		if v != tone[(i/2)%160] {
			t.Fatalf("sample %d: %d", i, v)
		}
	}

	// More audio reached the OS than the header declares (flushed every 200 ms); Repair
	// recovers it. Simulate the partial last frame a crash mid-write can leave.
	feed(2900 * time.Millisecond)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{1, 2, 3})
	f.Close()
	root, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	res, err := Repair(root, filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	// Written up to 2.78 s (2.9 s - Delay), flushed at every 200 ms boundary: 2.6 s.
	if res.Frames != 20800 || res.Channels != 2 || res.Duration != 2600*time.Millisecond || res.Size != 44+20800*4 {
		t.Fatalf("repair: %+v", res)
	}
	if n := soxSamples(t, sox, path); n != 20800 {
		t.Fatalf("after repair sox sees %d samples", n)
	}
	again, err := Repair(root, filepath.Base(path))
	if err != nil || again.Frames != res.Frames || again.Size != res.Size {
		t.Fatalf("second repair: %+v %v", again, err)
	}
}

func TestClosedFileWithSox(t *testing.T) {
	sox := testtool.Need(t, "sox", "sox")
	for _, stereo := range []bool{false, true} {
		r, path := newRec(t, Options{Stereo: stereo, Start: t0})
		r.Put(Caller, 1, 0, slices.Repeat([]int16{1000}, 4000), t0)
		res, err := r.Close(t0.Add(1234567 * time.Microsecond))
		if err != nil {
			t.Fatal(err)
		}
		if n := soxSamples(t, sox, path); n != res.Frames || res.Frames != 9877 {
			t.Fatalf("stereo=%v: sox %d samples, result %+v", stereo, n, res)
		}
		// Repair of a properly closed file changes nothing.
		before, _ := os.ReadFile(path)
		root, _ := os.OpenRoot(filepath.Dir(path))
		rep, err := Repair(root, filepath.Base(path))
		root.Close()
		after, _ := os.ReadFile(path)
		if err != nil || rep.Frames != res.Frames || rep.Size != res.Size || !slices.Equal(before, after) {
			t.Fatalf("repair of a closed file: %+v %v", rep, err)
		}
	}
}

func TestRepairRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	ours := header(1, 0)
	variants := map[string][]byte{
		"empty":     nil,
		"short":     ours[:30],
		"text":      []byte("this is not a wave file at all, just text that is long enough"),
		"8-bit":     patch(ours, 34, 8),
		"16 kHz":    patch32(ours, 24, 16000),
		"float":     patch(ours, 20, 3),
		"3 ch":      patch(ours, 22, 3),
		"no data":   append(slices.Clone(ours[:36]), "LIST"...),
		"bad align": patch(ours, 32, 4),
	}
	for name, b := range variants {
		if err := os.WriteFile(filepath.Join(dir, "f.wav"), append(b, 0, 0, 0, 0), 0o644); err != nil {
			t.Fatal(err)
		}
		if name == "empty" {
			os.WriteFile(filepath.Join(dir, "f.wav"), nil, 0o644)
		}
		before, _ := os.ReadFile(filepath.Join(dir, "f.wav"))
		if _, err := Repair(root, "f.wav"); !errors.Is(err, ErrNotOurWAV) {
			t.Errorf("%s: %v", name, err)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, "f.wav")); !slices.Equal(before, after) {
			t.Errorf("%s: file changed", name)
		}
	}
	if _, err := Repair(root, "../outside.wav"); err == nil {
		t.Error("repair outside the root")
	}
	if _, err := Repair(root, "missing.wav"); err == nil || errors.Is(err, ErrNotOurWAV) {
		t.Errorf("missing file: %v", err)
	}
}

func patch(h [headerSize]byte, off int, v uint16) []byte {
	b := h[:]
	b = slices.Clone(b)
	b[off], b[off+1] = byte(v), byte(v>>8)
	return b
}

func patch32(h [headerSize]byte, off int, v uint32) []byte {
	b := patch(h, off, uint16(v))
	b[off+2], b[off+3] = byte(v>>16), byte(v>>24)
	return b
}
