package webhooks_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"callrec/calls"
	"callrec/models"
)

// outbox is every queued message's event and data.
func (e *env) outbox(ep models.WebhookEndpoint) map[string][]models.WebhookData {
	e.t.Helper()
	out := map[string][]models.WebhookData{}
	for _, d := range e.deliveries(ep) {
		var env struct {
			Data models.WebhookData `json:"data"`
		}
		if err := json.Unmarshal([]byte(d.Payload), &env); err != nil {
			e.t.Fatal(err)
		}
		out[d.Event] = append(out[d.Event], env.Data)
	}
	return out
}

// TestEventsOfEveryPath: a call that ends queues call.ended and recording.completed once (saving
// the same snapshot again queues nothing); deleting by a user and by retention queues
// recording.deleted with who did it; a recording left by a crash and repaired at start queues
// its events too; an endpoint gets only what it subscribed to.
func TestEventsOfEveryPath(t *testing.T) {
	e := newEnv(t)
	all := e.endpoint("https://crm.example.com/all", false, models.WebhookEvents...)
	onlyDeleted := e.endpoint("https://crm.example.com/deleted", false, models.EventRecordingDeleted)
	ctx := context.Background()
	e.call()
	e.n-- // the same call again
	e.call()
	got := e.outbox(all)
	if len(got[models.EventCallEnded]) != 1 || len(got[models.EventRecordingCompleted]) != 1 || len(e.outbox(onlyDeleted)) != 0 {
		t.Fatalf("after one call saved twice: %v / %v", got, e.outbox(onlyDeleted))
	}
	fileID := got[models.EventRecordingCompleted][0].Recording.ID
	if _, err := e.store.DeleteRecordings(ctx, e.admin, "127.0.0.1", []uint{fileID}, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	e.call() // a second recording, for retention
	if _, err := e.store.ApplyRetention(ctx, func(context.Context) (map[uint]int, error) { return map[uint]int{e.pool.ID: 1}, nil },
		func(string) error { return nil }, time.Now().Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	del := e.outbox(onlyDeleted)[models.EventRecordingDeleted]
	if len(del) != 2 || del[0].DeletedBy == del[1].DeletedBy || del[0].Call == nil || del[0].Recording == nil {
		t.Fatalf("recording.deleted: %+v", del)
	}
	for _, d := range del {
		if (d.DeletedBy == "user") != (d.User == "demo-admin") || (d.DeletedBy != "user" && d.DeletedBy != "retention") {
			t.Fatalf("deleted by %q user %q", d.DeletedBy, d.User)
		}
	}
	// A recording whose disk filled up during the call: recording.failed, once, then call.ended.
	failedAt := time.Now()
	rec := models.CallRecord{EngineID: "diskfull", CustomerID: e.pool.CustomerID, PoolID: e.pool.ID, A: "49711218431440",
		B: "49711218431431", C: "4915258878874", Arrival: failedAt, Bridged: failedAt, State: calls.StateConnected, RecState: calls.RecFailed,
		Recording: &models.RecordingRecord{Path: "call_recording/337826/4971121843140/diskfull.wav", Channels: 1, Failed: "no space left on device"}}
	for range 2 {
		if _, err := e.store.SaveCall(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	rec.Ended, rec.State, rec.Outcome, rec.Recording.Final = failedAt.Add(time.Second), calls.StateEnded, calls.OutcomeCompleted, true
	if _, err := e.store.SaveCall(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if f := e.outbox(all)[models.EventRecordingFailed]; len(f) != 1 || f[0].Recording.Failure != "no space left on device" || f[0].Recording.Status != models.RecordingFailed {
		t.Fatalf("recording.failed: %+v", f)
	}

	// A call cut off by a crash: its recording is repaired at the next start.
	rel := "call_recording/337826/4971121843140/crashed.wav"
	now := time.Now()
	if _, err := e.store.SaveCall(ctx, models.CallRecord{EngineID: "crashed", CustomerID: e.pool.CustomerID, PoolID: e.pool.ID,
		A: "49711218431440", B: "49711218431431", C: "4915258878874", Arrival: now, Bridged: now, State: calls.StateConnected,
		RecState: calls.RecRecording, Recording: &models.RecordingRecord{Path: rel, Channels: 1}}); err != nil {
		t.Fatal(err)
	}
	before := len(e.outbox(all)[models.EventCallEnded])
	recs, err := e.store.UnfinishedRecordings(ctx)
	if err != nil || len(recs) != 1 {
		t.Fatalf("unfinished: %v %d", err, len(recs))
	}
	if err := e.store.MarkInterrupted(ctx, recs[0].ID, 8044, time.Second, ""); err != nil {
		t.Fatal(err)
	}
	got = e.outbox(all)
	last := got[models.EventRecordingCompleted][0] // newest first
	if len(got[models.EventCallEnded]) != before+1 || last.Recording.Status != models.RecordingInterrupted || last.Call.Outcome != models.OutcomeInterrupted {
		t.Fatalf("after the repair: %d call.ended (before %d), last recording %+v", len(got[models.EventCallEnded]), before, last.Recording)
	}
}
