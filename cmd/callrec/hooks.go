package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"callrec/internal/enginestore"
	"callrec/internal/metrics"
	"callrec/internal/webhooks"
	"callrec/media"
)

// afterSave is what hears of a call event once the Sink stored it (and with it the event's
// webhook messages): the next in line (live pages, uploads), the webhook worker, which looks
// at the outbox at once, and the metrics.
type afterSave struct {
	next    enginestore.Live
	hooks   *webhooks.Worker
	metrics *metrics.Metrics
}

func (a afterSave) CallChanged(c media.CallInfo) {
	a.next.CallChanged(c)
	a.hooks.Kick()
}

func (a afterSave) CallEnded(c media.CallInfo) {
	a.next.CallEnded(c)
	a.hooks.Kick()
	if a.metrics != nil {
		a.metrics.CallEnded(c)
	}
}

// serveMetrics serves /metrics on addr until ctx ends.
func serveMetrics(ctx context.Context, addr string, m *metrics.Metrics, log *slog.Logger) (func() error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	return func() error {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, nil
}
