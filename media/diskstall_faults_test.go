//go:build callrec_faults

package media

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"callrec/media/recorder"
)

// In the helper engine (TestCrashHelperProcess) CALLREC_FAULT_WRITE_STALL=DURATION makes
// every write of the first recording opened block that long, as a stalling disk would; the
// helper says "STALL path" once when it starts doing so.
func init() {
	d, err := time.ParseDuration(os.Getenv("CALLREC_FAULT_WRITE_STALL"))
	if err != nil || os.Getenv("CALLREC_CRASH_HELPER") != "1" {
		return
	}
	var once sync.Once
	var victim string
	recorder.SetWriteHook(func(rel string) {
		once.Do(func() {
			victim = rel
			printMu.Lock()
			fmt.Printf("STALL %s\n", rel)
			printMu.Unlock()
		})
		if rel == victim {
			time.Sleep(d)
		}
	})
}

// TestDiskStallDelaysOnlyItsFile: every write of one recording blocks for 3 s (its disk,
// or its NFS mount, stalls) while 20 recorded calls run. That file is still complete and
// exact when its call ends, and the other calls' files have no gap: the disk is written by
// each recording's own goroutine, never under a call's lock or on the packet readers.
func TestDiskStallDelaysOnlyItsFile(t *testing.T) {
	runFaultLoad(t, faultLoad{calls: 20, hold: 10 * time.Second, env: []string{"CALLREC_FAULT_WRITE_STALL=3s"},
		wantStall: true})
}
