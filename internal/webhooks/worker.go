package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"time"

	"callrec/models"
)

// Worker delivers the outbox. Several processes on one database each run one; the one holding
// the lease delivers, the others wait to take over.
type Worker struct {
	Store  *models.Store
	Client *http.Client
	// BaseURL is the panel's address as receivers reach it (for the download links), without
	// a trailing slash.
	BaseURL string
	// LinkValidity is how long a delivered download link works (default models.DefaultLinkValidity).
	LinkValidity  time.Duration
	AllowInsecure bool
	Log           *slog.Logger
	// Delivered is told every attempt's result: "delivered", "retry", "failed" (given up), or
	// "refused" (the guard or the scheme check stopped it) (the metrics).
	Delivered func(result string)
	// Retry is the wait before the next attempt after n failed ones (default Backoff).
	Retry func(n int) time.Duration

	kick    chan struct{}
	once    sync.Once
	holder  string
	held    bool // the lease, as of renewed
	renewed time.Time
}

// LeaseName is the lease of the delivering process.
const LeaseName = "webhook-deliveries"

const (
	leaseTTL  = 15 * time.Second
	pollEvery = time.Second
	batch     = 8 // sent at once
)

func (w *Worker) init() {
	w.once.Do(func() {
		w.kick = make(chan struct{}, 1)
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		w.holder = hex.EncodeToString(b)
		if w.Log == nil {
			w.Log = slog.New(slog.DiscardHandler)
		}
		if w.LinkValidity <= 0 {
			w.LinkValidity = models.DefaultLinkValidity
		}
		if w.Client == nil {
			w.Client = NewClient(w.AllowInsecure, nil)
		}
		if w.Retry == nil {
			w.Retry = Backoff
		}
		if w.Delivered == nil {
			w.Delivered = func(string) {}
		}
	})
}

// Kick asks for a look at the outbox now (an event was just written).
func (w *Worker) Kick() {
	w.init()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. It looks at the outbox at least every second, and at once when
// kicked, so a message's first attempt follows its event within that.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	defer func() {
		if w.held {
			_ = w.Store.ReleaseLease(context.Background(), LeaseName, w.holder)
		}
	}()
	var pruned time.Time
	for {
		if w.lease(ctx) {
			w.deliverDue(ctx)
			if time.Since(pruned) > time.Hour {
				pruned = time.Now()
				if n, err := w.Store.PruneWebhookDeliveries(ctx); err != nil && ctx.Err() == nil {
					w.Log.Warn("webhooks: pruning the delivery log", "err", err)
				} else if n > 0 {
					w.Log.Info("webhooks: old deliveries pruned from the log", "count", n)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.kick:
		}
	}
}

// lease takes or renews the delivery lease when a third of it has passed, and says whether this
// process holds it.
func (w *Worker) lease(ctx context.Context) bool {
	if w.held && time.Since(w.renewed) < leaseTTL/3 {
		return true
	}
	ok, err := w.Store.TakeLease(ctx, LeaseName, w.holder, leaseTTL)
	if err != nil && ctx.Err() == nil {
		w.Log.Warn("webhooks: taking the delivery lease", "err", err)
	}
	if ok && !w.held {
		w.Log.Info("webhooks: this process delivers the webhooks")
	}
	w.held = ok
	if ok {
		w.renewed = time.Now()
	}
	return ok
}

// deliverDue sends every due message, a batch at a time, until none is due. A batch takes at
// most one attempt's Timeout (as many run at once as it holds), well within the lease, which
// is renewed before each batch: a process that lost it stops.
func (w *Worker) deliverDue(ctx context.Context) {
	for ctx.Err() == nil && w.lease(ctx) {
		due, err := w.Store.DueWebhookDeliveries(ctx, batch)
		if err != nil {
			if ctx.Err() == nil {
				w.Log.Warn("webhooks: reading the outbox", "err", err)
			}
			return
		}
		if len(due) == 0 {
			return
		}
		var wg sync.WaitGroup
		for _, d := range due {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.deliver(ctx, d)
			}()
		}
		wg.Wait()
		if len(due) < batch {
			return
		}
	}
}

// deliver makes one attempt and records it.
func (w *Worker) deliver(ctx context.Context, d models.DueDelivery) {
	start := time.Now()
	code, err := w.attempt(ctx, d)
	if ctx.Err() != nil {
		return // shutting down: the attempt is made again after the restart
	}
	r := models.WebhookAttempt{At: w.Store.Now(), Code: code, Latency: time.Since(start)}
	result := "delivered"
	if err != nil {
		r.Err = attemptError(err)
		if next := r.At.Add(w.Retry(d.Attempts + 1)); next.Before(d.GiveUpAt) {
			r.Next, result = next, "retry"
		} else {
			result = "failed"
		}
		if ra := (refusedAddr{}); errors.As(err, &ra) {
			result = "refused"
		}
	}
	disabled, rerr := w.Store.RecordWebhookAttempt(context.WithoutCancel(ctx), d, r)
	if rerr != nil {
		w.Log.Error("webhooks: recording an attempt", "delivery", d.ID, "err", rerr)
	}
	if disabled {
		w.Log.Warn("webhooks: endpoint disabled after failing for 3 days", "endpoint", d.EndpointID)
	}
	w.Delivered(result)
	w.Log.Debug("webhooks: attempt", "delivery", d.ID, "event", d.Event, "code", code, "err", r.Err, "ms", r.Latency.Milliseconds())
}

// Backoff is the wait before attempt n+1 after n failed attempts: 5 s doubling up to an hour,
// each drawn between half and all of that (jitter, so a receiver back from an outage is not hit
// by every message at once).
func Backoff(n int) time.Duration {
	base := 5 * time.Second
	for i := 1; i < n && base < time.Hour; i++ {
		base *= 2
	}
	base = min(base, time.Hour)
	j, _ := rand.Int(rand.Reader, big.NewInt(int64(base/2)))
	return base/2 + time.Duration(j.Int64())
}

func (w *Worker) attempt(ctx context.Context, d models.DueDelivery) (int, error) {
	if err := checkURL(d.Endpoint.URL, w.AllowInsecure); err != nil {
		return 0, err
	}
	body, err := w.body(ctx, d)
	if err != nil {
		return 0, err
	}
	now := time.Now()
	sig, err := Sign(d.Endpoint.Secrets(now), d.MsgID, now, body)
	if err != nil {
		return 0, err
	}
	actx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, d.Endpoint.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "callrec-webhooks")
	req.Header.Set("webhook-id", d.MsgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return resp.StatusCode, ErrRedirect
	}
	return resp.StatusCode, &statusError{resp.StatusCode}
}

type statusError struct{ code int }

func (e *statusError) Error() string {
	return "answered " + strconv.Itoa(e.code) + " " + http.StatusText(e.code)
}

// body is the message as sent: the stored payload, with a fresh signed download link for a
// recording that still exists.
func (w *Worker) body(ctx context.Context, d models.DueDelivery) ([]byte, error) {
	if d.Event != models.EventRecordingCompleted && d.Event != models.EventRecordingFailed && d.Event != models.EventCallEnded {
		return []byte(d.Payload), nil
	}
	var env struct {
		Type      string             `json:"type"`
		Timestamp time.Time          `json:"timestamp"`
		Data      models.WebhookData `json:"data"`
	}
	if err := json.Unmarshal([]byte(d.Payload), &env); err != nil {
		return nil, err
	}
	if r := env.Data.Recording; r != nil && r.ID != 0 && w.BaseURL != "" {
		exp := time.Now().Add(w.LinkValidity).Truncate(time.Second).UTC()
		q, err := w.Store.SignRecordingLink(ctx, r.ID, exp)
		if err != nil {
			return nil, err
		}
		r.DownloadURL, r.DownloadExpires = w.BaseURL+"/api/v1/recordings/"+strconv.FormatUint(uint64(r.ID), 10)+"/audio?"+q, &exp
	}
	return json.Marshal(env)
}
