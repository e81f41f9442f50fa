package recorder

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// TestKill9 records in a child process in real time, kills it with SIGKILL once more
// than a second has been written, and checks that sox plays what is on disk and Repair
// recovers the rest. It waits on the child's "ready" line, not on time.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("CALLREC_RECORDER_CHILD"); dir != "" {
		recordForever(dir)
		return
	}
	sox := testtool.Need(t, "sox", "sox")
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
	cmd.Env = append(os.Environ(), "CALLREC_RECORDER_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var rel string
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "ready %s", &rel); err == nil {
			break
		}
	}
	cmd.Process.Kill() // SIGKILL: no deferred Close, no flush
	cmd.Wait()
	if rel == "" {
		t.Fatal("child never got ready")
	}
	path := filepath.Join(dir, filepath.FromSlash(rel))
	_, pcm := readWAV(t, path)
	frames := int64(len(pcm))
	if frames < 8000 {
		t.Fatalf("header declares %d frames, want at least the first second", frames)
	}
	if n := soxSamples(t, sox, path); n != frames {
		t.Fatalf("sox reads %d frames, header says %d", n, frames)
	}
	if i := slices.IndexFunc(pcm[800:frames-800], func(v int16) bool { return v != 1234 }); i >= 0 {
		t.Fatalf("frame %d is %d, want the recorded 1234", i+800, pcm[800+i])
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	res, err := Repair(root, rel)
	if err != nil || res.Frames < frames {
		t.Fatalf("repair: %+v %v (header had %d)", res, err, frames)
	}
	if n := soxSamples(t, sox, path); n != res.Frames {
		t.Fatalf("after repair sox reads %d frames, want %d", n, res.Frames)
	}
}

func recordForever(dir string) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		panic(err)
	}
	start := time.Now()
	r, rel, err := Create(root, "x", "rec", Options{Start: start})
	if err != nil {
		panic(err)
	}
	pcm := slices.Repeat([]int16{1234}, 160)
	ready := false
	for k := 0; ; k++ {
		// Packets and Advance follow the ideal 20 ms clock, paced in real time: a starved
		// child on a busy machine then still writes the same file, it just writes it later.
		at := start.Add(time.Duration(k) * 20 * time.Millisecond)
		r.Put(Caller, 7, uint32(k*160), pcm, at)
		r.Advance(at)
		if !ready && r.Snapshot(at).Frames > 8000+bufferFrames {
			r.waitWriter() // the header declares the first second (a starved writer may lag)
			fmt.Printf("ready %s\n", rel)
			ready = true
		}
		time.Sleep(time.Until(at.Add(20 * time.Millisecond)))
	}
}
