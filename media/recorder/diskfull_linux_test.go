//go:build linux

package recorder

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// TestDiskFullTmpfs fills a real 64 KiB tmpfs: the recorder must report ENOSPC, keep the
// call's side of things going, and leave a file that players read up to the failure. It
// needs to mount, so it runs as root only (as in the CI container) and skips otherwise.
func TestDiskFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		if testtool.E2E() {
			t.Fatalf("cannot mount a tmpfs (needs root; CALLREC_E2E=1 requires it): %v", err)
		}
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	r, rel, err := Create(root, "call_recording/1/2", "rec", Options{Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	pcm := slices.Repeat([]int16{2000}, 160)
	for k := range 500 { // 10 s mono = 160 KB
		at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		r.Put(Caller, 1, uint32(k*160), pcm, at)
		r.Advance(at)
	}
	r.waitWriter()
	if err := r.Err(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Err() = %v, want ENOSPC", err)
	}
	res, err := r.Close(t0.Add(10 * time.Second))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Close: %v", err)
	}
	if res.Frames != 80000 || res.Recorded != 10*time.Second {
		t.Fatalf("result %+v", res)
	}
	path := filepath.Join(dir, filepath.FromSlash(rel))
	_, got := readWAV(t, path)
	if len(got) < 8000 || slices.ContainsFunc(got, func(v int16) bool { return v != 2000 }) {
		t.Fatalf("file holds %d frames after the failure, want the audio before it", len(got))
	}
	if sox, err := exec.LookPath("sox"); err == nil {
		if n := soxSamples(t, sox, path); n != int64(len(got)) {
			t.Fatalf("sox reads %d frames, header says %d", n, len(got))
		}
	}
	t.Logf("disk full after %d of 80000 frames: %v", len(got), res)
}
