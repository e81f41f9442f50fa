package recorder

// The recorder's files: names in their folder, names claimed elsewhere, write errors.

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestCreateNames(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var rels []string
	for range 3 {
		r, rel, err := Create(root, "a/b", "rec_x", Options{Start: t0})
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, rel)
		if _, err := r.Close(t0); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(rels, []string{"a/b/rec_x.wav", "a/b/rec_x_2.wav", "a/b/rec_x_3.wav"}) {
		t.Fatalf("names %v", rels)
	}
	for _, bad := range []struct{ dir, base string }{{"../out", "x"}, {"/etc", "x"}, {"a", "../x"}, {"a", ""}, {"a", "x/y"}} {
		if _, rel, err := Create(root, bad.dir, bad.base, Options{}); err == nil {
			t.Errorf("Create(%q, %q) made %s", bad.dir, bad.base, rel)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "out")); err == nil {
		t.Fatal("wrote outside the root")
	}
	// A symlink pointing out of the root is not followed.
	os.Symlink(t.TempDir(), filepath.Join(dir, "escape"))
	if _, _, err := Create(root, "escape/x", "y", Options{}); err == nil {
		t.Fatal("followed a symlink out of the root")
	}
}

// failing is a sink that accepts limit bytes, then fails like a full disk.

// failing is a sink that accepts limit bytes, then fails like a full disk.
type failing struct {
	mu    sync.Mutex
	buf   []byte
	limit int
}

func (f *failing) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	room := max(0, f.limit-len(f.buf))
	if len(p) > room {
		f.buf = append(f.buf, p[:room]...)
		return room, syscall.ENOSPC
	}
	f.buf = append(f.buf, p...)
	return len(p), nil
}

func (f *failing) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if int(off) > len(f.buf) {
		f.buf = append(f.buf, make([]byte, min(int(off), f.limit)-len(f.buf))...)
	}
	n := copy(f.buf[off:], p)
	if n == len(p) {
		return n, nil
	}
	room := max(0, f.limit-len(f.buf))
	k := min(len(p)-n, room)
	f.buf = append(f.buf, p[n:n+k]...)
	if n+k < len(p) {
		return n + k, syscall.ENOSPC
	}
	return len(p), nil
}

func (f *failing) Close() error { return nil }

func TestWriteErrorMarksFailure(t *testing.T) {
	f := &failing{limit: headerSize + 3*16000}
	r, err := newRecorder(f, Options{Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	for k := range 500 { // 10 s of caller audio, the disk fills after about 3 s
		at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		r.Put(Caller, 1, uint32(k*160), slices.Repeat([]int16{1000}, 160), at)
		r.Advance(at)
	}
	r.waitWriter()
	if err := r.Err(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Err() = %v", err)
	}
	res, err := r.Close(t0.Add(10 * time.Second))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Close: %v", err)
	}
	if res.Frames != 80000 || res.Size > int64(f.limit) {
		t.Fatalf("result %+v", res)
	}
	// The header still describes whole frames that reached the disk.
	ch, err := parseHeader(f.buf)
	data := int64(binary.LittleEndian.Uint32(f.buf[40:]))
	if err != nil || ch != 1 || data <= 0 || headerSize+data > int64(len(f.buf)) || data%2 != 0 {
		t.Fatalf("header after failure: ch %d data %d file %d: %v", ch, data, len(f.buf), err)
	}
	// Further calls are harmless.
	r.Put(Caller, 1, 0, []int16{1}, t0)
	r.Advance(t0.Add(time.Hour))
	if _, err := r.Close(t0); err == nil {
		t.Fatal("second Close succeeded")
	}
}

func TestHeaderWriteErrorAtCreate(t *testing.T) {
	if _, err := newRecorder(&failing{limit: 10}, Options{}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v", err)
	}
}

// TestOpenClaimedSkipsNamesClaimedElsewhere: a name another node holds is skipped like one that
// exists here, and nothing of it is left in this folder.
func TestOpenClaimedSkipsNamesClaimedElsewhere(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	taken := map[string]bool{"a/rec_x.wav": true, "a/rec_x_2.wav": true}
	var asked []string
	r := New(Options{Start: t0})
	rel, err := r.OpenClaimed(root, "a", "rec_x", func(rel string) bool { asked = append(asked, rel); return !taken[rel] })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Close(t0); err != nil {
		t.Fatal(err)
	}
	if rel != "a/rec_x_3.wav" || !slices.Equal(asked, []string{"a/rec_x.wav", "a/rec_x_2.wav", "a/rec_x_3.wav"}) {
		t.Fatalf("got %s, asked %v", rel, asked)
	}
	for _, n := range []string{"rec_x.wav", "rec_x_2.wav"} {
		if _, err := os.Stat(filepath.Join(dir, "a", n)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", n, err)
		}
	}
}
