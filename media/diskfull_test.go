package media

// A full disk: calls go on, the recording fails cleanly.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
	"callrec/media/recorder"
)

// TestDiskFullKeepsCalls: recordings go to a 96 KiB tmpfs that two stereo calls fill within a
// second. Both calls go on to their end with audio flowing, their recordings are marked failed
// with the reason, the files that exist stay readable, and the engine takes the next call.
func TestDiskFullKeepsCalls(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", dir).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot mount a small tmpfs (needs root): %v %s", err, out)
		if testtool.E2E() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, noticeOffPolicy(t))}, trunk, func(c *Config) {
		c.DataDir = dir
	})
	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"},
		"-p", strconv.Itoa(trunk), "-m", "3")
	time.Sleep(200 * time.Millisecond)
	caller := startSipp(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "4000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", "-m", "2", "-l", "2", e.SIPAddr())
	if err := caller.wait(t, 30*time.Second); err != nil {
		t.Fatalf("a call broke on the full disk: %v", err)
	}
	for i := 0; i < 2; i++ {
		c := e.sink.wait(t, 10*time.Second)
		if c.Outcome != OutcomeCompleted || c.Rec != RecFailed || c.Recording == nil ||
			!strings.Contains(c.Recording.Failed, "no space left") || !hasEvent(c, EventRecordingFailed) {
			t.Fatalf("outcome %q rec %q recording %+v", c.Outcome, c.Rec, c.Recording)
		}
		if c.PacketsOut[0] < 100 || c.PacketsOut[1] < 100 {
			t.Fatalf("media stopped with the disk: %v", c.PacketsOut)
		}
		if c.Recording.Path != "" {
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(c.Recording.Path))); err == nil {
				if _, err := recorder.Repair(mustRoot(t, dir), c.Recording.Path); err != nil {
					t.Errorf("file on the full disk unreadable: %v", err)
				}
			}
		}
		t.Logf("call %d: %s", i, c.Recording.Failed)
	}
	// Nothing else broke: the next call is answered and carried (its recording fails too).
	u := newRawUA(t, e.SIPAddr())
	if code := u.call("49711218431431"); code != 200 {
		t.Fatalf("next call: %d", code)
	}
	time.Sleep(time.Second)
	if code := u.bye("49711218431431"); code != 200 {
		t.Fatalf("next call's BYE: %d", code)
	}
	if c := e.sink.wait(t, 10*time.Second); c.Outcome != OutcomeCompleted {
		t.Fatalf("next call: %q", c.Outcome)
	}
	if err := callee.wait(t, 10*time.Second); err != nil {
		t.Errorf("sipp callee: %v", err)
	}
	noLeaks(t, e)
}

func mustRoot(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
