package models

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/calls"
)

// twoNodes opens one database twice, as two nodes of a cluster, with a shared clock.
func twoNodes(t *testing.T) (a, b *Store, clock *time.Time) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	clock = &now
	var err error
	if a, err = Open(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err = Open(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a.NodeID, b.NodeID = "node-a", "node-b"
	a.Now = func() time.Time { return *clock }
	b.Now = a.Now
	return a, b, clock
}

// openCall saves a connected, recording call of node s, as the engine's sink would mid-call.
func openCall(t *testing.T, s *Store, cust uint, id string, arrival time.Time) {
	t.Helper()
	_, err := s.SaveCall(context.Background(), CallRecord{EngineID: id, CustomerID: cust, PoolID: 1, A: "49711218431440", B: "49711218431431",
		C: "4915258878874", Arrival: arrival, Answered: arrival.Add(time.Second), Bridged: arrival.Add(2 * time.Second),
		State: calls.StateConnected, RecState: calls.RecRecording, Mode: calls.ModeAutomatic,
		Events:    []CallEventRecord{{At: arrival.Add(2 * time.Second), Kind: calls.EventRecordingStarted, By: "system"}},
		Recording: &RecordingRecord{Path: "call_recording/1001/4971121843140/" + id + ".wav", Channels: 1, Size: 44}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReapNodesEndsTheLostNodesCalls(t *testing.T) {
	ctx := context.Background()
	a, b, clock := twoNodes(t)
	root := Actor{Role: RolePlatformAdmin}
	cust, err := a.CreateCustomer(ctx, root, CustomerInput{Name: "A", SubscriberID: "1001", Language: "de", TimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	start := *clock
	for _, n := range []struct {
		s  *Store
		id string
	}{{a, "node-a"}, {b, "node-b"}} {
		if err := n.s.Heartbeat(ctx, NodeBeat{ID: n.id, Addr: "127.0.0.2:7000", Version: "test", Started: start}, 6*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	openCall(t, a, cust.ID, "call-on-a", start)
	openCall(t, b, cust.ID, "call-on-b", start)
	if node, err := a.CallNode(ctx, "call-on-b"); err != nil || node != "node-b" {
		t.Fatalf("CallNode = %q, %v", node, err)
	}

	// Node b's last heartbeat is at +3 s; a goes on beating. Before b's lease ran out nothing
	// is taken over.
	*clock = start.Add(3 * time.Second)
	if err := b.Heartbeat(ctx, NodeBeat{ID: "node-b", Addr: "127.0.0.3:7000", Version: "test", Started: start, ActiveCalls: 1}, 6*time.Second); err != nil {
		t.Fatal(err)
	}
	lastB := *clock
	*clock = start.Add(8 * time.Second)
	if got, err := a.ReapNodes(ctx, "node-a"); err != nil || len(got) != 0 {
		t.Fatalf("reaped a live node: %v %v", got, err)
	}
	*clock = start.Add(10 * time.Second)
	_ = a.Heartbeat(ctx, NodeBeat{ID: "node-a", Addr: "127.0.0.2:7000", Version: "test", Started: start}, 6*time.Second)
	got, err := a.ReapNodes(ctx, "node-a")
	if err != nil || len(got) != 1 || got[0].ID != "node-b" || got[0].Calls != 1 {
		t.Fatalf("ReapNodes = %+v, %v", got, err)
	}
	if again, _ := a.ReapNodes(ctx, "node-a"); len(again) != 0 {
		t.Fatalf("reaped twice: %+v", again)
	}

	var cb, ca Call
	a.db.Preload("Events").Where("engine_id = ?", "call-on-b").First(&cb)
	a.db.Where("engine_id = ?", "call-on-a").First(&ca)
	if cb.Ended == nil || !cb.Ended.Equal(lastB) || cb.Outcome != OutcomeInterrupted || cb.State != string(calls.StateEnded) {
		t.Fatalf("b's call: ended %v outcome %q state %q", cb.Ended, cb.Outcome, cb.State)
	}
	if cb.DurationMS != lastB.Sub(start.Add(2*time.Second)).Milliseconds() {
		t.Errorf("duration %d ms", cb.DurationMS)
	}
	if ev := cb.Events[len(cb.Events)-1]; ev.Kind != string(calls.EventNodeLost) || !strings.Contains(ev.Detail, "node-b") {
		t.Errorf("last event %+v", ev)
	}
	if ca.Ended != nil {
		t.Errorf("a's call was ended too")
	}
	var rec Recording
	a.db.Where("call_id = ?", cb.ID).First(&rec)
	if rec.Status != RecordingInterrupted || !strings.Contains(rec.Failure, "node-b") {
		t.Errorf("b's recording: %q %q", rec.Status, rec.Failure)
	}
	var audits int64
	a.db.Model(&AuditEvent{}).Where("kind = ? AND object = ?", AuditCallInterrupted, "call "+strconv.FormatUint(uint64(cb.ID), 10)).Count(&audits)
	if audits != 1 {
		t.Errorf("%d audit events", audits)
	}

	nodes, err := a.Nodes(ctx, root)
	if err != nil || len(nodes) != 2 || nodes[1].State != NodeDown || nodes[1].DownBy != "node-a" {
		t.Fatalf("nodes: %+v %v", nodes, err)
	}
	if _, err := a.Nodes(ctx, Actor{Role: RoleCustomerAdmin, CustomerID: cust.ID}); err != ErrForbidden {
		t.Errorf("a customer listed the nodes: %v", err)
	}
	live, _ := a.LiveNodes(ctx, false)
	if len(live) != 1 || live[0].ID != "node-a" {
		t.Errorf("live nodes: %+v", live)
	}

	// A late update of b's (a node that was cut off from the database, not dead) does not
	// reopen the call.
	openCall(t, b, cust.ID, "call-on-b", start)
	a.db.Where("engine_id = ?", "call-on-b").First(&cb)
	if cb.Ended == nil || cb.Outcome != OutcomeInterrupted {
		t.Errorf("reopened: %+v", cb)
	}

	// a's restart repair leaves b's calls alone; b's finds the lost recording to repair and
	// upload, a's uploader does not take it.
	if n, err := a.InterruptOpenCalls(ctx); err != nil || n != 1 {
		t.Errorf("a interrupted %d calls, %v (want its own one)", n, err)
	}
	lost, err := b.LostRecordings(ctx)
	if err != nil || len(lost) != 1 || lost[0].ID != rec.ID {
		t.Fatalf("lost recordings: %+v %v", lost, err)
	}
	if lost, _ := a.LostRecordings(ctx); len(lost) != 0 {
		t.Errorf("a sees b's lost recordings")
	}
	if err := b.RepairedLost(ctx, rec.ID, 44+16000, time.Second); err != nil {
		t.Fatal(err)
	}
	if p, _ := a.PendingUploads(ctx, 0, 10); len(p) != 0 {
		t.Errorf("a's pending uploads: %+v", p)
	}
	if p, _ := b.PendingUploads(ctx, 0, 10); len(p) != 1 || p[0].CallID != cb.ID || p[0].Size != 44+16000 {
		t.Errorf("b's pending uploads: %+v", p)
	}

	// b back: up again.
	if err := b.Heartbeat(ctx, NodeBeat{ID: "node-b", Addr: "127.0.0.3:7000", Version: "test", Started: *clock}, 6*time.Second); err != nil {
		t.Fatal(err)
	}
	if n, _ := a.Node(ctx, "node-b"); n.State != NodeUp || n.DownAt != nil {
		t.Errorf("b after its return: %+v", n)
	}
	if err := b.NodeLeaving(ctx, "node-b"); err != nil {
		t.Fatal(err)
	}
	*clock = clock.Add(time.Minute)
	if got, _ := a.ReapNodes(ctx, "node-a"); len(got) != 0 {
		t.Errorf("a node that left was reaped: %+v", got)
	}
}

func TestClaimRecordingPath(t *testing.T) {
	ctx := context.Background()
	a, b, clock := twoNodes(t)
	const rel = "call_recording/1001/4971121843140/rec_x.wav"
	if ok, err := a.ClaimRecordingPath(ctx, rel, "node-a"); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, _ := b.ClaimRecordingPath(ctx, rel, "node-b"); ok {
		t.Fatal("two nodes claimed one name")
	}
	if ok, _ := b.ClaimRecordingPath(ctx, rel+".2", "node-b"); !ok {
		t.Fatal("another name refused")
	}
	// A name a recording has is never free again, even after its reservation ran out.
	root := Actor{Role: RolePlatformAdmin}
	cust, _ := a.CreateCustomer(ctx, root, CustomerInput{Name: "A", SubscriberID: "1001", Language: "de", TimeZone: "Europe/Berlin"})
	openCall(t, a, cust.ID, "rec_x", *clock) // its path is call_recording/1001/4971121843140/rec_x.wav
	*clock = clock.Add(25 * time.Hour)
	if err := a.PruneRecordingPathClaims(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.ClaimRecordingPath(ctx, rel, "node-b"); ok {
		t.Fatal("the name of an existing recording claimed")
	}
	var n int64
	a.db.Model(&Lease{}).Where("name LIKE ?", recPathLease+"%").Count(&n)
	if n != 0 {
		t.Errorf("%d reservations left after pruning", n)
	}
}
