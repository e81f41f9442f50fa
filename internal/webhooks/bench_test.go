package webhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"callrec/internal/storetest"
	"callrec/internal/webhooks"
	"callrec/models"
)

// BenchmarkDrainBacklog: b.N messages waiting (a receiver back after an outage), delivered by one
// worker to a local receiver that answers 204: the rate at which a backlog drains, signing, the
// guarded client and the outbox's bookkeeping included.
func BenchmarkDrainBacklog(b *testing.B) {
	store, err := models.Open(storetest.DSN(b, ""))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	if _, _, err := store.SeedDemo(ctx); err != nil {
		b.Fatal(err)
	}
	u, _ := store.UserByName(ctx, "demo-admin")
	admin := models.ActorOf(u)
	var n atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1); w.WriteHeader(204) }))
	defer rcv.Close()
	url := rcv.URL
	ep, err := store.CreateWebhook(ctx, admin, "", models.WebhookInput{URL: &url, Events: []string{models.EventCallEnded}}, models.WebhookURLPolicy{AllowInsecure: true})
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, err := store.SendTestWebhook(ctx, admin, ep.ID); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { (&webhooks.Worker{Store: store, AllowInsecure: true}).Run(wctx); close(done) }()
	start := time.Now()
	for n.Load() < int64(b.N) {
		time.Sleep(5 * time.Millisecond)
	}
	for {
		if left, _ := store.PendingWebhookDeliveries(ctx); left == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.StopTimer()
	cancel()
	<-done
}
