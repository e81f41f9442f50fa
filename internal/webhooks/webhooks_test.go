package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callrec/calls"
	"callrec/internal/storetest"
	"callrec/internal/webhooks"
	"callrec/models"
)

// env is a store with the demo customer and a running delivery worker.
type env struct {
	t     *testing.T
	store *models.Store
	admin models.Actor
	pool  models.Pool
	n     int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := models.Open(storetest.DSN(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	if _, _, err := store.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := store.UserByName(ctx, "demo-admin")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := store.PoolByNumber(ctx, "49711218431431")
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: store, admin: models.ActorOf(u), pool: pool}
}

// run starts a worker until the test ends.
func (e *env) run(w *webhooks.Worker) {
	w.Store = e.store
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

func (e *env) endpoint(u string, insecure bool, events ...string) models.WebhookEndpoint {
	e.t.Helper()
	ep, err := e.store.CreateWebhook(context.Background(), e.admin, "127.0.0.1", models.WebhookInput{URL: &u, Events: events},
		models.WebhookURLPolicy{AllowInsecure: insecure})
	if err != nil {
		e.t.Fatal(err)
	}
	return ep
}

// call stores a finished, recorded call as the engine's Sink does: in one transaction with its
// webhook messages.
func (e *env) call() {
	e.t.Helper()
	e.n++
	arrival := time.Now().Add(-10 * time.Second)
	b := arrival.Add(time.Second)
	rel := "call_recording/337826/4971121843140/rec_" + strconv.Itoa(e.n) + ".wav"
	_, err := e.store.SaveCall(context.Background(), models.CallRecord{EngineID: "call-" + strconv.Itoa(e.n), CustomerID: e.pool.CustomerID,
		PoolID: e.pool.ID, A: "49711218431440", B: "49711218431431", C: "4915258878874", Arrival: arrival, Answered: b, Bridged: b,
		Ended: b.Add(5 * time.Second), State: calls.StateEnded, RecState: calls.RecStopped, Outcome: calls.OutcomeCompleted,
		Recorded: 5 * time.Second, Events: []models.CallEventRecord{{At: b, Kind: calls.EventRecordingStarted, By: "system"}},
		Segments:  []calls.Segment{{Start: 0, End: 5 * time.Second}},
		Recording: &models.RecordingRecord{Path: rel, Channels: 2, Size: 160044, Duration: 5 * time.Second, Recorded: 5 * time.Second, Final: true}})
	if err != nil {
		e.t.Fatal(err)
	}
}

// hit is one request the receiver got.
type hit struct {
	id, ts, sig string
	body        []byte
	verified    error
}

// receiver is a real HTTP server that verifies every request's signature with secret and
// answers with the next of codes (200 once they are used up).
type receiver struct {
	mu     sync.Mutex
	secret string
	codes  []int
	hits   []hit
	srv    *httptest.Server
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	h := hit{id: req.Header.Get("webhook-id"), ts: req.Header.Get("webhook-timestamp"), sig: req.Header.Get("webhook-signature"), body: body}
	h.verified = webhooks.Verify(r.secret, h.id, h.ts, h.sig, body, time.Now())
	r.hits = append(r.hits, h)
	code := 200
	if len(r.codes) > 0 {
		code, r.codes = r.codes[0], r.codes[1:]
	}
	r.mu.Unlock()
	w.WriteHeader(code)
}

func (r *receiver) got() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
	}
}

func fast(int) time.Duration { return 100 * time.Millisecond }

func (e *env) deliveries(ep models.WebhookEndpoint) []models.WebhookDelivery {
	e.t.Helper()
	ds, err := e.store.WebhookDeliveries(context.Background(), e.admin, ep.ID, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

// TestSignedAndRetriedWithTheSameID: the receiver answers 500 twice, then 200. The message
// arrives three times with the same webhook-id, each signed so Verify accepts it, and the
// delivery log says delivered after 3 attempts; its body is the recording.completed event with
// the call, the trail, the storage state and a signed download link.
func TestSignedAndRetriedWithTheSameID(t *testing.T) {
	e := newEnv(t)
	rcv := &receiver{codes: []int{500, 500}}
	rcv.srv = httptest.NewServer(rcv)
	defer rcv.srv.Close()
	ep := e.endpoint(rcv.srv.URL+"/hook", true, models.EventRecordingCompleted)
	rcv.secret = ep.Secret
	e.run(&webhooks.Worker{AllowInsecure: true, Retry: fast, BaseURL: "http://panel.example"})
	e.call()
	waitFor(t, "three attempts", 20*time.Second, func() bool { return len(rcv.got()) >= 3 })
	hits := rcv.got()
	for i, h := range hits {
		if h.verified != nil {
			t.Fatalf("attempt %d: %v", i+1, h.verified)
		}
		if h.id != hits[0].id || !strings.HasPrefix(h.id, "msg_") {
			t.Fatalf("attempt %d has webhook-id %q, the first %q", i+1, h.id, hits[0].id)
		}
	}
	var env struct {
		Type string             `json:"type"`
		Data models.WebhookData `json:"data"`
	}
	if err := json.Unmarshal(hits[2].body, &env); err != nil {
		t.Fatal(err)
	}
	r, c := env.Data.Recording, env.Data.Call
	if env.Type != models.EventRecordingCompleted || r == nil || c == nil || r.Storage != models.StorageSpooled || r.Status != "complete" ||
		c.SubscriberID != "337826" || c.StartNumber != "4971121843140" || c.C != "4915258878874" || len(c.Trail) != 1 || len(r.Segments) != 1 ||
		!strings.HasPrefix(r.DownloadURL, "http://panel.example/api/v1/recordings/"+strconv.Itoa(int(r.ID))+"/audio?expires=") || r.DownloadExpires == nil {
		t.Fatalf("payload: %s", hits[2].body)
	}
	waitFor(t, "delivered in the log", 5*time.Second, func() bool {
		ds := e.deliveries(ep)
		return len(ds) == 1 && ds[0].Status == models.DeliveryDelivered && ds[0].Attempts == 3 && ds[0].LastCode == 200
	})
	if len(rcv.got()) != 3 {
		t.Fatalf("%d requests after the 200", len(rcv.got()))
	}
	// After a rotation both secrets verify, during the overlap.
	rot, err := e.store.RotateWebhookSecret(context.Background(), e.admin, "", ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.SendTestWebhook(context.Background(), e.admin, ep.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the test event", 10*time.Second, func() bool { return len(rcv.got()) == 4 })
	last := rcv.got()[3]
	for _, s := range []string{ep.Secret, rot.Secret} {
		if err := webhooks.Verify(s, last.id, last.ts, last.sig, last.body, time.Now()); err != nil {
			t.Fatalf("during rotation, %v", err)
		}
	}
	if err := webhooks.Verify(models.NewWebhookSecret(), last.id, last.ts, last.sig, last.body, time.Now()); err == nil {
		t.Fatal("a wrong secret verified")
	}
}

// TestBacklogDeliveredWhenTheReceiverIsBack: the receiver's port is closed while three calls end;
// the worker keeps trying, and once a server listens there again every message arrives, once.
func TestBacklogDeliveredWhenTheReceiverIsBack(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down
	ep := e.endpoint("http://"+addr+"/hook", true, models.EventRecordingCompleted, models.EventCallEnded)
	e.run(&webhooks.Worker{AllowInsecure: true, Retry: fast})
	for range 3 {
		e.call()
	}
	waitFor(t, "failed attempts while down", 10*time.Second, func() bool {
		ds := e.deliveries(ep)
		if len(ds) != 6 {
			return false
		}
		for _, d := range ds {
			if d.Attempts < 2 || d.Status != models.DeliveryPending || !strings.Contains(d.LastError, "refused") {
				return false
			}
		}
		return true
	})
	rcv := &receiver{secret: ep.Secret}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rcv}
	go srv.Serve(ln)
	defer srv.Close()
	waitFor(t, "backlog delivered", 15*time.Second, func() bool {
		for _, d := range e.deliveries(ep) {
			if d.Status != models.DeliveryDelivered {
				return false
			}
		}
		return true
	})
	ids := map[string]bool{}
	for _, h := range rcv.got() {
		if h.verified != nil {
			t.Fatal(h.verified)
		}
		ids[h.id] = true
	}
	if len(ids) != 6 || len(rcv.got()) != 6 {
		t.Fatalf("%d requests, %d messages; want 6 of each", len(rcv.got()), len(ids))
	}
	if n, _ := e.store.PendingWebhookDeliveries(context.Background()); n != 0 {
		t.Fatalf("backlog %d", n)
	}
}

// TestRedirectAndInsideAddressesRefused: a redirect is never followed (its target gets nothing),
// and without --webhook-allow-insecure a name that resolves to loopback is refused when
// connecting, whatever the URL looked like when it was registered.
func TestRedirectAndInsideAddressesRefused(t *testing.T) {
	e := newEnv(t)
	target := &receiver{}
	target.srv = httptest.NewServer(target)
	defer target.srv.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.srv.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	epRedirect := e.endpoint(redirect.URL+"/hook", true, models.EventCallEnded)

	tlsRcv := &receiver{}
	tlsRcv.srv = httptest.NewTLSServer(tlsRcv)
	defer tlsRcv.srv.Close()
	port := tlsRcv.srv.Listener.Addr().(*net.TCPAddr).Port
	// "localhost" is no address, so registering it passes; connecting to 127.0.0.1 does not.
	epInside := e.endpoint("https://localhost:"+strconv.Itoa(port)+"/hook", false, models.EventCallEnded)

	secure := &webhooks.Worker{AllowInsecure: false, Retry: fast, Client: webhooks.NewClient(false, tlsRcv.srv.Client().Transport.(*http.Transport).TLSClientConfig)}
	// The redirect's endpoint is http://127.0.0.1: it needs the flag to be tried at all. Two
	// workers would compete for the lease, so each runs in turn.
	e.run(secure)
	e.call()
	waitFor(t, "refused attempts", 10*time.Second, func() bool {
		ds := e.deliveries(epInside)
		return len(ds) == 1 && ds[0].Attempts >= 2 && strings.Contains(ds[0].LastError, "not a public address")
	})
	if n := len(tlsRcv.got()); n != 0 {
		t.Fatalf("the inside receiver got %d requests", n)
	}
	if ds := e.deliveries(epRedirect); len(ds) != 1 || !strings.Contains(ds[0].LastError, "https only") {
		t.Fatalf("http:// without the flag: %+v", ds)
	}

	e2 := newEnv(t)
	epRedirect = e2.endpoint(redirect.URL+"/hook", true, models.EventCallEnded)
	e2.run(&webhooks.Worker{AllowInsecure: true, Retry: fast})
	e2.call()
	waitFor(t, "redirect refused", 10*time.Second, func() bool {
		ds := e2.deliveries(epRedirect)
		return len(ds) == 1 && ds[0].Attempts >= 2 && ds[0].LastCode == http.StatusTemporaryRedirect && ds[0].LastError == webhooks.ErrRedirect.Error()
	})
	if n := len(target.got()); n != 0 {
		t.Fatalf("the redirect's target got %d requests", n)
	}
}

// TestEndpointDisabledAfterThreeDaysOfFailures: failures over three days disable the endpoint
// with a notice and fail its waiting messages; one success in between resets the count.
func TestEndpointDisabledAfterThreeDaysOfFailures(t *testing.T) {
	e := newEnv(t)
	ep := e.endpoint("https://crm.example.com/hook", false, models.EventCallEnded)
	e.call()
	ctx := context.Background()
	due := func() models.DueDelivery {
		ds, err := e.store.DueWebhookDeliveries(ctx, 10)
		if err != nil || len(ds) != 1 {
			t.Fatalf("due: %v %d", err, len(ds))
		}
		return ds[0]
	}
	t0 := time.Now()
	fail := func(at time.Time) bool {
		disabled, err := e.store.RecordWebhookAttempt(ctx, due(), models.WebhookAttempt{At: at, Code: 503, Err: "answered 503", Next: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return disabled
	}
	if fail(t0) || fail(t0.Add(48*time.Hour)) {
		t.Fatal("disabled before 3 days")
	}
	if !fail(t0.Add(72 * time.Hour)) {
		t.Fatal("not disabled after 3 days of failures")
	}
	got, err := e.store.Webhook(ctx, e.admin, ep.ID)
	if err != nil || got.Enabled || got.DisabledAt == nil || !strings.Contains(got.Disabled, "3 days") {
		t.Fatalf("endpoint: %v %+v", err, got)
	}
	if ds := e.deliveries(ep); ds[0].Status != models.DeliveryFailed {
		t.Fatalf("message still %s", ds[0].Status)
	}
	// A month later it leaves the log; a pending one would stay.
	if n, err := e.store.PruneWebhookDeliveries(ctx); err != nil || n != 0 {
		t.Fatalf("pruned %d at once: %v", n, err)
	}
	e.store.Now = func() time.Time { return time.Now().Add(models.WebhookLogKept + time.Hour) }
	if n, err := e.store.PruneWebhookDeliveries(ctx); err != nil || n != 1 {
		t.Fatalf("pruned %d a month later: %v", n, err)
	}
	e.store.Now = time.Now
	// Switched on again, it starts afresh.
	on := true
	if got, err = e.store.UpdateWebhook(ctx, e.admin, "", ep.ID, models.WebhookInput{Enabled: &on}, models.WebhookURLPolicy{}); err != nil || got.Disabled != "" || got.FailingSince != nil {
		t.Fatalf("re-enabled: %v %+v", err, got)
	}
}

// TestOneDelivererPerDatabase: two workers on one database, as two processes of a cluster: only
// the lease holder delivers; when it stops, the other takes over.
func TestOneDelivererPerDatabase(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ok, err := e.store.TakeLease(ctx, webhooks.LeaseName, "a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("a: %v %v", ok, err)
	}
	if ok, _ := e.store.TakeLease(ctx, webhooks.LeaseName, "b", time.Minute); ok {
		t.Fatal("b took a's lease")
	}
	if ok, _ := e.store.TakeLease(ctx, webhooks.LeaseName, "a", time.Minute); !ok {
		t.Fatal("a could not renew")
	}
	e.store.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if ok, _ := e.store.TakeLease(ctx, webhooks.LeaseName, "b", time.Minute); !ok {
		t.Fatal("b could not take an expired lease")
	}
	e.store.Now = time.Now
	if err := e.store.ReleaseLease(ctx, webhooks.LeaseName, "b"); err != nil {
		t.Fatal(err)
	}

	// Two workers, as in two processes: every message arrives once.
	rcv := &receiver{}
	rcv.srv = httptest.NewServer(rcv)
	defer rcv.srv.Close()
	ep := e.endpoint(rcv.srv.URL, true, models.EventRecordingCompleted, models.EventCallEnded)
	rcv.secret = ep.Secret
	e.run(&webhooks.Worker{AllowInsecure: true, Retry: fast})
	e.run(&webhooks.Worker{AllowInsecure: true, Retry: fast})
	for range 10 {
		e.call()
	}
	waitFor(t, "20 messages", 20*time.Second, func() bool { return len(rcv.got()) >= 20 })
	time.Sleep(500 * time.Millisecond) // room for a duplicate to show
	ids := map[string]int{}
	for _, h := range rcv.got() {
		ids[h.id]++
	}
	if len(ids) != 20 || len(rcv.got()) != 20 {
		t.Fatalf("%d requests for %d messages", len(rcv.got()), len(ids))
	}
}

// TestBackoff: the first retry comes within 10 s, then the waits grow to an hour, each with
// jitter.
func TestBackoff(t *testing.T) {
	for n, want := range map[int][2]time.Duration{1: {2500 * time.Millisecond, 5 * time.Second}, 2: {5 * time.Second, 10 * time.Second},
		5: {40 * time.Second, 80 * time.Second}, 20: {30 * time.Minute, time.Hour}} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := webhooks.Backoff(n)
			if d < want[0] || d > want[1] {
				t.Fatalf("Backoff(%d) = %s, want %s..%s", n, d, want[0], want[1])
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Fatalf("Backoff(%d) has no jitter: %v", n, seen)
		}
	}
}

// TestSignature checks Sign against the Standard Webhooks specification's example.
func TestSignature(t *testing.T) {
	sig, err := webhooks.Sign([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil || sig != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("%q %v", sig, err)
	}
	if err := webhooks.Verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", sig,
		[]byte(`{"test": 2432232314}`), time.Unix(1614265330, 0)); err != nil {
		t.Fatal(err)
	}
	if err := webhooks.Verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", sig,
		[]byte(`{"test": 2432232314}`), time.Unix(1614265330+600, 0)); err == nil {
		t.Fatal("an old timestamp verified")
	}
}
