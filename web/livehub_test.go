package web

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"callrec/media"
	"callrec/models"
	"callrec/templates"
)

func TestHubWakesOnlyTheCustomerAndNeverBlocks(t *testing.T) {
	h := newLiveHub()
	one, two, all := h.subscribe(1), h.subscribe(2), h.subscribe(0)
	for i := 0; i < 10000; i++ { // nobody reads: publishing must still return at once
		h.publish(1)
	}
	if len(one.wake) != 1 || len(all.wake) != 1 {
		t.Fatalf("pending wake-ups: customer 1 %d, platform %d; want one each", len(one.wake), len(all.wake))
	}
	if len(two.wake) != 0 {
		t.Fatal("customer 2 was woken by customer 1's call")
	}
	<-one.wake
	h.publish(2)
	if len(one.wake) != 0 || len(two.wake) != 1 {
		t.Fatal("customer 2's call woke customer 1")
	}
	h.unsubscribe(two)
	h.publish(2)
	if h.subscribers() != 2 {
		t.Fatalf("%d subscribers after unsubscribe", h.subscribers())
	}
	h.close()
	h.close() // twice is harmless (shutdown paths may overlap)
	select {
	case <-h.closed:
	default:
		t.Fatal("close did not end the streams")
	}
}

// BenchmarkHubPublish is what one engine event costs the engine's goroutine with 1,000 open
// Live calls pages, none of them reading.
func BenchmarkHubPublish(b *testing.B) {
	h := newLiveHub()
	for i := 0; i < 1000; i++ {
		h.subscribe(uint(i%100 + 1))
	}
	b.ReportAllocs()
	for b.Loop() {
		h.publish(7)
	}
}

// BenchmarkLiveRowsRender is one stream update: 100 live calls of a customer rendered as the
// table body and framed as an event.
func BenchmarkLiveRowsRender(b *testing.B) {
	now := time.Now()
	v := liveView{actor: models.Actor{UserID: 1, Role: models.RoleAgent, CustomerID: 1}, pools: map[uint]string{1: "Pool"}, now: now}
	rows := make([]templates.LiveRow, 100)
	for i := range rows {
		rows[i] = v.row(media.CallInfo{ID: strconv.Itoa(i), CustomerID: 1, PoolID: 1, A: "49711218431440", B: "49711218431431",
			C: "4915258878874", Arrival: now.Add(-time.Minute), Bridged: now.Add(-50 * time.Second), State: media.StateConnected,
			Rec: media.RecRecording, Mode: media.ModeManual, Recorded: 20 * time.Second}, uint(i+1))
	}
	ctx := context.Background()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := templates.LiveRows(rows, false).Render(ctx, &buf); err != nil {
			b.Fatal(err)
		}
		_ = sseEvent("calls", buf.Bytes())
	}
}
