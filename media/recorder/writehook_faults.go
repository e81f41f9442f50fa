//go:build callrec_faults

package recorder

import (
	"os"
	"sync"
)

// This file is the fault-test build of the file layer (go test -tags callrec_faults): a hook
// runs before every write of a recording, so a test can make one file's disk stall.

var (
	hookMu    sync.Mutex
	writeHook func(rel string)
)

// SetWriteHook installs fn; it is called with the recording's path (relative to its root)
// before every write to that recording's file, on the recording's writer goroutine.
func SetWriteHook(fn func(rel string)) {
	hookMu.Lock()
	writeHook = fn
	hookMu.Unlock()
}

type hookedFile struct {
	fileAt
	rel string
}

func (h hookedFile) hook() {
	hookMu.Lock()
	fn := writeHook
	hookMu.Unlock()
	if fn != nil {
		fn(h.rel)
	}
}

func (h hookedFile) WriteAt(p []byte, off int64) (int, error) {
	h.hook()
	return h.fileAt.WriteAt(p, off)
}

func fileSink(f *os.File, rel string) sink { return hookedFile{fileAt{f}, rel} }
