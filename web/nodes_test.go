package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"callrec/media"
	"callrec/models"
)

// drainRecorder is a NodeControl that records which nodes it was asked to drain.
type drainRecorder struct {
	drained []string
	fail    error
}

func (d *drainRecorder) DrainNode(_ context.Context, id string) error {
	if d.fail != nil {
		return d.fail
	}
	d.drained = append(d.drained, id)
	return nil
}

func TestNodesPageAndAPI(t *testing.T) {
	ctl := &drainRecorder{}
	e := newEnvWith(t, func(c *Config) { c.Nodes, c.NodeID = ctl, "node-a" })
	ctx := context.Background()
	now := time.Now()
	for _, b := range []models.NodeBeat{{ID: "node-a", Addr: "10.0.0.1:7070", Version: "v1", Started: now, ActiveCalls: 3},
		{ID: "node-b", Addr: "10.0.0.2:7070", Version: "v1", Started: now, Draining: true}, {ID: "node-c", Addr: "10.0.0.3:7070", Version: "v0"}} {
		if err := e.store.Heartbeat(ctx, b, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.Heartbeat(ctx, models.NodeBeat{ID: "node-d", Addr: "10.0.0.4:7070"}, -time.Second); err != nil {
		t.Fatal(err) // a lease that ran out before any peer noticed
	}

	p := e.platform()
	st, body := p.get("/admin/nodes")
	if st != http.StatusOK || !strings.Contains(body, `data-testid="node-node-a" data-state="up"`) ||
		!strings.Contains(body, `data-testid="node-node-b" data-state="draining"`) || !strings.Contains(body, `data-testid="node-node-d" data-state="down"`) ||
		!strings.Contains(body, `data-testid="nav-nodes"`) {
		t.Fatalf("nodes page: %d\n%s", st, body)
	}
	// The platform admin's home lists the same nodes, the lost one marked.
	if st, home := p.get("/"); st != http.StatusOK || !strings.Contains(home, `data-testid="home-node-node-a" data-state="up"`) ||
		!strings.Contains(home, `data-testid="home-node-node-d" data-state="down"`) || strings.Contains(home, `data-testid="home-nodes-alone"`) {
		t.Fatalf("home's nodes: %d\n%s", st, home)
	}
	if strings.Count(body, `data-testid="node-drain"`) != 2 { // a and c take calls; b drains, d is lost
		t.Errorf("%d drain buttons", strings.Count(body, `data-testid="node-drain"`))
	}
	if st, _, _ := p.post("/admin/nodes/node-c/drain", url.Values{}); st != http.StatusSeeOther || len(ctl.drained) != 1 || ctl.drained[0] != "node-c" {
		t.Fatalf("drain button: %d %v", st, ctl.drained)
	}
	if n := e.auditCount("node.drain"); n != 1 {
		t.Errorf("%d node.drain audit events", n)
	}

	tok := e.token("admin")
	var list struct {
		Nodes []nodeJSON `json:"nodes"`
		This  string     `json:"this_node"`
	}
	if st := e.api(tok, "GET", "/nodes", nil, &list); st != 200 || len(list.Nodes) != 4 || list.This != "node-a" || !list.Nodes[0].This ||
		list.Nodes[0].ActiveCalls != 3 || list.Nodes[3].State != "down" {
		t.Fatalf("nodes API: %d %+v", st, list)
	}
	var eb apiErrorBody
	if st := e.api(tok, "POST", "/nodes/node-b/drain", nil, &eb); st != 422 || eb.Error.Code != "invalid_state" {
		t.Errorf("draining a draining node: %d %+v", st, eb)
	}
	if st := e.api(tok, "POST", "/nodes/nope/drain", nil, &eb); st != 404 {
		t.Errorf("unknown node: %d", st)
	}
	ctl.fail = errors.New("connection refused")
	if st := e.api(tok, "POST", "/nodes/node-c/drain", nil, &eb); st != 503 || eb.Error.Code != "node_unavailable" {
		t.Errorf("unreachable node: %d %+v", st, eb)
	}
	ctl.fail = nil
	if st := e.api(tok, "POST", "/nodes/node-a/drain", nil, nil); st != http.StatusAccepted || ctl.drained[len(ctl.drained)-1] != "node-a" {
		t.Errorf("drain this node: %d %v", st, ctl.drained)
	}

	// Customers see no nodes: not the page, not the API (404, as every platform admin route), not
	// the menu entry.
	if st, _ := e.admin().get("/admin/nodes"); st != http.StatusNotFound {
		t.Errorf("customer admin on the nodes page: %d", st)
	}
	if st := e.api(e.token(e.demo.Admin), "GET", "/nodes", nil, &eb); st != 404 {
		t.Errorf("customer admin on the nodes API: %d", st)
	}
	if st := e.api(e.token(e.demo.Admin), "POST", "/nodes/node-a/drain", nil, &eb); st != 404 {
		t.Errorf("customer admin draining: %d", st)
	}
	if _, body := e.admin().get("/pools"); strings.Contains(body, `data-testid="nav-nodes"`) {
		t.Error("a customer admin sees the nodes menu entry")
	}
}

func TestNodesPageAlone(t *testing.T) {
	e := newEnv(t)
	st, body := e.platform().get("/admin/nodes")
	if st != http.StatusOK || !strings.Contains(body, `data-testid="nodes-alone"`) {
		t.Fatalf("alone: %d\n%s", st, body)
	}
}

// TestNodesEngineState: the Nodes page, the platform admin's home and the nodes API show this
// node's engine, its calls and the trunk registration in every state, in the user's words.
func TestNodesEngineState(t *testing.T) {
	until := time.Date(2026, 12, 1, 13, 2, 0, 0, time.UTC) // 14:02 in Berlin
	health := media.Health{Calls: 2, Registration: media.RegistrationStatus{State: media.RegRegistered, Trunk: "sip.carrier.example:5061", Expires: until}}
	e := newEnvWith(t, func(c *Config) { c.EngineHealth = func() media.Health { return health } })
	p := e.platform()
	for _, path := range []string{"/admin/nodes", "/"} {
		st, body := p.get(path)
		if st != http.StatusOK || !strings.Contains(body, `data-testid="engine-state" data-state="registered"`) ||
			!strings.Contains(body, `data-testid="engine-calls">2<`) || !strings.Contains(body, "sip.carrier.example:5061") ||
			!strings.Contains(body, "registriert") || !strings.Contains(body, "bis 01.12.2026 14:02") {
			t.Fatalf("%s registered: %d\n%s", path, st, body)
		}
	}
	if _, body := p.get("/"); !strings.Contains(body, `data-testid="home-nodes-alone"`) {
		t.Errorf("home of a process alone does not say so:\n%s", body)
	}

	health.Registration = media.RegistrationStatus{State: media.RegFailed, Trunk: "sip.carrier.example:5061", Failures: 3,
		NextTry: until.Add(time.Minute), LastError: "403 Forbidden"}
	st, body := p.get("/admin/nodes")
	if st != http.StatusOK || !strings.Contains(body, `data-state="failed"`) || !strings.Contains(body, "3 Fehlschläge in Folge; nächster Versuch 01.12.2026 14:03") ||
		!strings.Contains(body, "403 Forbidden") {
		t.Fatalf("failed registration: %d\n%s", st, body)
	}
	health.Registration = media.RegistrationStatus{State: media.RegOff}
	if _, body := p.get("/admin/nodes"); !strings.Contains(body, `data-state="off"`) || !strings.Contains(body, "nicht verwendet") || strings.Contains(body, "carrier") {
		t.Fatalf("registration off:\n%s", body)
	}

	var list struct {
		Engine media.Health `json:"engine"`
	}
	if st := e.api(e.token("admin"), "GET", "/nodes", nil, &list); st != 200 || list.Engine.Calls != 2 || list.Engine.Registration.State != media.RegOff {
		t.Fatalf("nodes API engine: %d %+v", st, list)
	}
	// A customer's home has no nodes and no engine state.
	if _, body := e.admin().get("/"); strings.Contains(body, `data-testid="home-nodes"`) || strings.Contains(body, `data-testid="engine-state"`) {
		t.Error("a customer admin's home shows the nodes")
	}
}
