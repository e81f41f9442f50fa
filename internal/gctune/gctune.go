// Package gctune sets up Go's garbage collector the way callrec serve runs it.
//
// Two needs pull in opposite directions. The engine's recorder rings are long-lived and large
// (a thousand calls hold a large live heap); Go's default GOGC=100 lets the heap grow to twice
// that, so serve runs with GOGC=50 (BENCHMARKS.md, engine memory). The Control Panel's live
// heap is small but every page allocates; Go never sets the next collection below 4 MB of
// heap, so under page load it collected many times a second and marked for a large share of
// the time, which slowed every request that ran meanwhile (BENCHMARKS.md, File Browser).
// KeepFloor raises GOGC while the live heap is small so that the heap may reach Floor before
// the next collection, and gives the configured GOGC back as soon as the live heap is large
// enough to reach Floor on its own: memory at scale is what GOGC alone gives.
package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// Percent is the GOGC callrec serve runs with unless GOGC is set.
const Percent = 50

// Floor is the heap size below which Serve does not collect (64 MiB: nothing for a machine that
// records calls, 16 times Go's own minimum).
const Floor = 64 << 20

// Serve applies serve's settings: GOGC=Percent unless getenv("GOGC") is set, and the heap
// goal kept at least Floor (unless GOGC=off). stop restores the GOGC from before.
func Serve(getenv func(string) string) (stop func()) {
	before := gcPercent()
	if getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
	keep := KeepFloor(Floor)
	return func() {
		keep()
		debug.SetGCPercent(before)
	}
}

// KeepFloor keeps the heap goal at least floor bytes: after every collection it sets GOGC to
// what makes live heap * (1 + GOGC/100) reach floor, never below the GOGC in force when
// KeepFloor was called. With the collector off it does nothing. stop restores that GOGC.
func KeepFloor(floor uint64) (stop func()) {
	base := gcPercent()
	if base < 0 {
		return func() {}
	}
	k := &keeper{floor: floor, base: base, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	k.percent.Store(int64(base))
	k.tune()
	k.arm()
	return func() {
		k.stopped.Store(true)
		debug.SetGCPercent(base)
	}
}

// gcPercent is the GOGC in force (runtime/debug can only read it by setting it).
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

type keeper struct {
	floor   uint64
	base    int
	sample  []metrics.Sample // used by the finalizer goroutine only
	percent atomic.Int64     // the GOGC last set
	stopped atomic.Bool
}

// percentFor is the GOGC for a live heap of live bytes. Go's own minimum heap (4 MB) scales
// with GOGC too, so GOGC stays at most what puts that minimum at the floor.
func (k *keeper) percentFor(live uint64) int {
	p := k.base
	if live > 0 && live*uint64(100+k.base)/100 < k.floor {
		p = int(min(k.floor*100/live-100, k.floor*100/goMinHeap))
	}
	return max(p, k.base)
}

// goMinHeap is the runtime's smallest heap goal at GOGC=100 (runtime.defaultHeapMinimum).
const goMinHeap = 4 << 20

func (k *keeper) tune() {
	metrics.Read(k.sample)
	if k.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := k.percentFor(k.sample[0].Value.Uint64())
	// Small moves of the live heap do not matter; setting GOGC is cheap but not free.
	if old := k.percent.Load(); !k.stopped.Load() && int64(p) != old && (p == k.base || p > int(old)*9/8 || p < int(old)*7/8) {
		k.percent.Store(int64(p))
		debug.SetGCPercent(p)
	}
}

// arm leaves an unreachable object whose finalizer runs after the next collection: it
// tunes and arms again.
func (k *keeper) arm() {
	s := &sentinel{k: k}
	runtime.SetFinalizer(s, func(s *sentinel) {
		if s.k.stopped.Load() {
			return
		}
		s.k.tune()
		s.k.arm()
	})
}

// sentinel holds a pointer so it is never a tiny allocation (the finalizer of one of those may
// wait for its neighbours).
type sentinel struct{ k *keeper }
