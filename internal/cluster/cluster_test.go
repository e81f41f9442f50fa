package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callrec/media"
	"callrec/models"
)

// engine is a node's engine with calls set by the test.
type engine struct {
	mu    sync.Mutex
	calls map[string]media.CallInfo
}

func (e *engine) Calls() []media.CallInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []media.CallInfo
	for _, c := range e.calls {
		out = append(out, c)
	}
	return out
}

func (e *engine) Call(id string) (media.CallInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.calls[id]
	return c, ok
}

func (e *engine) set(id, by string, on bool) (media.CallInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.calls[id]
	if !ok {
		return c, media.ErrNoSuchCall
	}
	if c.Rec == media.RecObjected {
		return c, media.ErrCallerObjected
	}
	c.Rec = media.RecStopped
	if on {
		c.Rec = media.RecRecording
	}
	c.Events = append(c.Events, media.Event{At: time.Now(), Kind: media.EventRecordingStarted, By: by})
	e.calls[id] = c
	return c, nil
}

func (e *engine) StartRecording(id, by string) (media.CallInfo, error) { return e.set(id, by, true) }
func (e *engine) StopRecording(id, by string) (media.CallInfo, error)  { return e.set(id, by, false) }
func (e *engine) Active() int                                          { return len(e.Calls()) }

// testNode runs a node with its internal API on a loopback port.
type testNode struct {
	*Node
	eng     *engine
	store   *models.Store
	woken   chan uint
	drained chan struct{}
	srv     *http.Server
	cancel  context.CancelFunc
	stall   atomic.Int64 // ns the internal API's call list waits before answering
}

const secret = "0123456789abcdef-test-secret"

// testBeat is the test nodes' heartbeat (their lease is three of them). Short, but not so short
// that a loaded machine's stall of a few hundred milliseconds lets a live node's lease run out
// (at 100 ms a peer sometimes took a live node over in the middle of a test).
const testBeat = 400 * time.Millisecond

func startNode(t *testing.T, db, id, sec string) *testNode {
	t.Helper()
	return startNodeTLS(t, db, id, sec, nil, nil)
}

// startNodeTLS is startNode with its internal API served over TLS (srv) and its peers dialed
// over TLS (cli); nil: plain HTTP.
func startNodeTLS(t *testing.T, db, id, sec string, srv, cli *tls.Config) *testNode {
	t.Helper()
	st, err := models.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	st.NodeID = id
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if srv != nil {
		ln = tls.NewListener(ln, srv)
	}
	tn := &testNode{eng: &engine{calls: map[string]media.CallInfo{}}, store: st, woken: make(chan uint, 16), drained: make(chan struct{}, 1)}
	tn.Node = New(Config{Store: st, Engine: tn.eng, NodeID: id, Advertise: ln.Addr().String(), Secret: sec,
		Beat: testBeat, Live: func(c uint) { tn.woken <- c }, Drain: func() { tn.drained <- struct{}{} }, TLS: cli})
	h := tn.Handler()
	tn.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cluster/v1/calls" {
			time.Sleep(time.Duration(tn.stall.Load()))
		}
		h.ServeHTTP(w, r)
	})}
	go tn.srv.Serve(ln)
	if err := tn.Beat(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn.cancel = cancel
	go tn.Run(ctx)
	t.Cleanup(func() { tn.kill(); st.Close() })
	return tn
}

// kill stops the node as kill -9 would: no more heartbeats, no more answers.
func (tn *testNode) kill() {
	tn.cancel()
	_ = tn.srv.Close()
}

// waitPeers waits until each node sees the others.
func waitPeers(t *testing.T, nodes ...*testNode) {
	t.Helper()
	for _, n := range nodes {
		_ = n.Beat(context.Background())
	}
	for _, n := range nodes {
		if err := n.Beat(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := len(*n.peers.Load()); got != len(nodes)-1 {
			t.Fatalf("%s sees %d peers", n.ID(), got)
		}
	}
}

func TestCallsAndControlAcrossNodes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db.sqlite")
	a := startNode(t, db, "node-a", secret)
	b := startNode(t, db, "node-b", secret)
	waitPeers(t, a, b)
	ctx := context.Background()
	root := models.Actor{Role: models.RolePlatformAdmin}
	cust, err := a.store.CreateCustomer(ctx, root, models.CustomerInput{Name: "C", SubscriberID: "1001", Language: "de", TimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	call := media.CallInfo{ID: "b-call", CustomerID: cust.ID, Arrival: now, Bridged: now, State: media.CallState("connected"), Rec: media.RecOff}
	b.eng.calls["b-call"] = call
	if _, err := b.store.SaveCall(ctx, models.CallRecord{EngineID: "b-call", CustomerID: cust.ID, Arrival: now, State: "connected"}); err != nil {
		t.Fatal(err)
	}
	a.eng.calls["a-call"] = media.CallInfo{ID: "a-call", CustomerID: cust.ID, Arrival: now.Add(time.Second)}

	got := a.Calls()
	if len(got) != 2 || got[0].ID != "b-call" || got[1].ID != "a-call" {
		t.Fatalf("a's view of the calls: %+v", got)
	}
	info, err := a.StartRecording("b-call", "alice")
	if err != nil || info.Rec != media.RecRecording || info.CustomerID != cust.ID {
		t.Fatalf("start on b from a: %+v %v", info, err)
	}
	if c, _ := b.eng.Call("b-call"); c.Rec != media.RecRecording || c.Events[0].By != "alice" {
		t.Fatalf("b's engine: %+v", c)
	}
	// The engine's refusals come back as themselves.
	c := b.eng.calls["b-call"]
	c.Rec = media.RecObjected
	b.eng.calls["b-call"] = c
	if _, err := a.StopRecording("b-call", "alice"); !errors.Is(err, media.ErrCallerObjected) {
		t.Fatalf("objected call: %v", err)
	}
	if _, err := a.StartRecording("no-such-call", "alice"); !errors.Is(err, media.ErrNoSuchCall) {
		t.Fatalf("unknown call: %v", err)
	}

	// b's changes wake a's pages.
	b.CallChanged(media.CallInfo{CustomerID: cust.ID})
	select {
	case w := <-a.woken:
		if w != cust.ID {
			t.Fatalf("woken for %d", w)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a not woken by b's change")
	}

	// Drain b from a.
	if err := a.DrainNode(ctx, "node-b"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.drained:
	case <-time.After(time.Second):
		t.Fatal("b not drained")
	}

	// b dies: start/stop answers node_unavailable fast, its call is taken over by a.
	b.kill()
	start := time.Now()
	_, err = a.StartRecording("b-call", "alice")
	if !errors.Is(err, models.ErrNodeUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("start on a dead node: %v after %s", err, time.Since(start))
	}
	if got := a.Calls(); len(got) != 1 {
		t.Fatalf("a lists a dead node's calls: %+v", got)
	}
	deadline := time.Now().Add(20 * testBeat)
	for {
		var n models.Node
		if n, err = a.store.Node(ctx, "node-b"); err == nil && n.State == models.NodeDown {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b not marked down: %+v %v", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cl, err := a.store.Calls(ctx, root, models.CallFilter{})
	if err != nil || len(cl.Calls) != 1 || cl.Calls[0].Outcome != models.OutcomeInterrupted || cl.Calls[0].Ended == nil {
		t.Fatalf("b's call after the take-over: %+v %v", cl.Calls, err)
	}
	select {
	case w := <-a.woken:
		if w != cust.ID {
			t.Fatalf("woken for %d", w)
		}
	case <-time.After(time.Second):
		t.Fatal("a's pages not woken by the take-over")
	}
}

func TestInternalAPIRefusesWhatIsNotSignedFresh(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db.sqlite")
	a := startNode(t, db, "node-a", secret)
	url := "http://" + a.cfg.Advertise + "/cluster/v1/calls"
	do := func(req *http.Request) int {
		t.Helper()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	get := func() *http.Request { r, _ := http.NewRequest("GET", url, nil); return r }

	if code := do(get()); code != http.StatusUnauthorized {
		t.Errorf("unsigned: %d", code)
	}
	wrong := newSigner("another-secret-of-16+", "node-x")
	r := get()
	wrong.sign(r, nil)
	if code := do(r); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d", code)
	}
	good := newSigner(secret, "node-x")
	r = get()
	good.sign(r, nil)
	if code := do(r); code != http.StatusOK {
		t.Fatalf("signed: %d", code)
	}
	if code := do(r.Clone(context.Background())); code != http.StatusUnauthorized {
		t.Errorf("replayed: %d", code)
	}
	old := newSigner(secret, "node-x")
	old.now = func() time.Time { return time.Now().Add(-2 * Window) }
	r = get()
	old.sign(r, nil)
	if code := do(r); code != http.StatusUnauthorized {
		t.Errorf("stale: %d", code)
	}
	// A signature moved to another path, method or body does not fit.
	r = get()
	good.sign(r, nil)
	moved, _ := http.NewRequest("POST", "http://"+a.cfg.Advertise+"/cluster/v1/drain", nil)
	moved.Header = r.Header.Clone()
	if code := do(moved); code != http.StatusUnauthorized {
		t.Errorf("moved to drain: %d", code)
	}
	body := []byte(`{"id":"x","by":"a","on":true}`)
	post, _ := http.NewRequest("POST", "http://"+a.cfg.Advertise+"/cluster/v1/recording", bytes.NewReader(body))
	good.sign(post, body)
	tampered, _ := http.NewRequest("POST", post.URL.String(), strings.NewReader(`{"id":"y","by":"a","on":true}`))
	tampered.Header = post.Header.Clone()
	if code := do(tampered); code != http.StatusUnauthorized {
		t.Errorf("tampered body: %d", code)
	}
	select {
	case <-a.drained:
		t.Fatal("an unsigned request drained the node")
	default:
	}

	// A node with another secret is no peer: its answers are refused, so a's start/stop
	// answers node_unavailable rather than trusting it.
	x := startNode(t, db, "node-x", "a-different-secret-here")
	_ = x.Beat(context.Background())
	_ = a.Beat(context.Background())
	p := a.peer("node-x")
	if p == nil {
		t.Fatal("x not listed")
	}
	if err := a.call(context.Background(), p, "GET", "/cluster/v1/calls", nil, nil); err == nil {
		t.Fatal("a accepted an answer of a node with another secret")
	}
}

// TestReapWaitsALeaseAfterTheDatabaseCameBack: a node takes over lost peers only after its own
// heartbeats have worked for a whole lease, at the start and after every failed heartbeat (a
// database restart longer than a lease made every lease run out; the live peers renew within it).
func TestReapWaitsALeaseAfterTheDatabaseCameBack(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	g := reapGate{ttl: 6 * time.Second}
	steps := []struct {
		at   time.Duration
		ok   bool
		reap bool
	}{
		{0, true, false},               // started
		{2 * time.Second, true, false}, // within the first lease
		{6 * time.Second, true, true},  // a lease of working heartbeats
		{8 * time.Second, false, false},
		{10 * time.Second, false, false},
		{20 * time.Second, true, false}, // back: every lease ran out meanwhile
		{24 * time.Second, true, false},
		{26 * time.Second, true, true},
		{28 * time.Second, true, true},
	}
	for _, s := range steps {
		if got := g.beat(s.ok, t0.Add(s.at)); got != s.reap {
			t.Errorf("at %s (heartbeat ok %v): reap %v, want %v", s.at, s.ok, got, s.reap)
		}
	}
}
