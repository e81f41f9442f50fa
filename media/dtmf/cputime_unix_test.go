//go:build unix

package dtmf

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is user+system CPU time of the process. Benchmarks report it per op next to
// wall time, because the load target is CPU per call-second and a shared machine inflates
// wall time while other processes run.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}
