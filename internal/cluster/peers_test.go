package cluster

import (
	"path/filepath"
	"testing"
	"time"

	"callrec/media"
)

// TestSlowPeerKeepsItsCalls: a peer slower than peerCallsTimeout (a loaded machine) stands in
// with its last list for a while; a peer that is gone (connection refused) is left out at once.
func TestSlowPeerKeepsItsCalls(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db.sqlite")
	a := startNode(t, db, "node-a", secret)
	b := startNode(t, db, "node-b", secret)
	waitPeers(t, a, b)
	b.eng.mu.Lock()
	b.eng.calls["b-call"] = media.CallInfo{ID: "b-call", Arrival: time.Now()}
	b.eng.mu.Unlock()
	if got := a.Calls(); len(got) != 1 {
		t.Fatalf("a's view: %+v", got)
	}
	b.stall.Store(int64(3 * peerCallsTimeout))
	a.invalidate("node-b") // b said its calls changed: a asks again, b is slow
	if got := a.Calls(); len(got) != 1 || got[0].ID != "b-call" {
		t.Fatalf("a slow peer's calls vanished: %+v", got)
	}
	b.stall.Store(0)
	b.kill()
	a.invalidate("node-b")
	if got := a.Calls(); len(got) != 0 {
		t.Fatalf("a gone peer's calls are listed: %+v", got)
	}
}
