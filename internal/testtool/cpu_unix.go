//go:build unix

package testtool

import (
	"syscall"
	"testing"
	"time"
)

// ProcessCPU is the user+system CPU time of this process. Benchmarks report it per op next to
// wall time: the engine's targets are CPU per call-second, and a shared machine inflates wall
// time while other processes run.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU adds a "cpu-ns/op" metric: the process CPU time since start, per op.
func ReportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(ProcessCPU()-start)/float64(b.N), "cpu-ns/op")
}
