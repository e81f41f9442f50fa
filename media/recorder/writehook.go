//go:build !callrec_faults

package recorder

import "os"

// fileSink is the file itself; the fault-test build wraps it (writehook_faults.go).
func fileSink(f *os.File, rel string) sink { return fileAt{f} }
