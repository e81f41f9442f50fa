package gctune

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

var sink []byte

// churn allocates total bytes of short-lived garbage and returns how many collections ran.
func churn(total int) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < total; i += 64 << 10 {
		sink = make([]byte, 64<<10)
	}
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

// TestKeepFloor: with a small live heap the floor cuts the collections of the same garbage;
// with a live heap larger than the floor GOGC is the configured one again; stop restores it.
func TestKeepFloor(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(Percent))
	runtime.GC()
	plain := churn(512 << 20)
	stop := KeepFloor(64 << 20)
	runtime.GC()
	runtime.GC() // the finalizer of the first tunes after it
	floored := churn(512 << 20)
	t.Logf("collections for 512 MB of garbage: %d at GOGC=%d, %d with a 64 MB floor", plain, Percent, floored)
	if floored*4 > plain {
		t.Errorf("the floor did not cut the collections: %d with it, %d without", floored, plain)
	}
	// The live heap a collection reports includes what was allocated while it marked: on a
	// busy machine a collection in the middle of the churn can report tens of MB and give the
	// base GOGC back for one cycle. After a collection with nothing allocated meanwhile the
	// live heap is small again, and so GOGC is above the base.
	for deadline := time.Now().Add(5 * time.Second); ; {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer goroutine runs after the collection
		if p := gcPercent(); p > Percent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC with a small live heap is %d, want above %d", gcPercent(), Percent)
		}
	}

	// A live heap past the floor: back to the configured GOGC after the next collections.
	big := make([][]byte, 0, 128)
	for range 128 {
		big = append(big, make([]byte, 1<<20))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the finalizer goroutine runs after the collection
		if p := gcPercent(); p == Percent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC with 128 MB live is still %d, want %d", gcPercent(), Percent)
		}
	}
	runtime.KeepAlive(big)
	stop()
	if p := gcPercent(); p != Percent {
		t.Errorf("after stop GOGC is %d, want %d", p, Percent)
	}
}

func TestPercentFor(t *testing.T) {
	k := &keeper{floor: 64 << 20, base: 50}
	for live, want := range map[uint64]int{0: 50, 1 << 20: 1600, 3 << 20: 1600, 8 << 20: 700, 32 << 20: 100, 40 << 20: 60, 43 << 20: 50, 64 << 20: 50, 1 << 30: 50} {
		if got := k.percentFor(live); got != want {
			t.Errorf("percentFor(%d MB) = %d, want %d", live>>20, got, want)
		}
	}
}

func TestServeRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	stop := Serve(func(string) string { return "" })
	if p := gcPercent(); p < Percent {
		t.Errorf("serving GOGC %d, want at least %d", p, Percent)
	}
	stop()
	if p := gcPercent(); p != 100 {
		t.Errorf("after stop GOGC is %d, want the 100 from before", p)
	}
}
