package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"callrec/internal/kamailiotest"
	"callrec/internal/s3test"
	"callrec/internal/sipptest"
	"callrec/internal/testtool"
)

// clusterNodeProc is one callrec node of the cluster test: `callrec serve` in a child process
// (the test kills it with SIGKILL), on its own data folder, SIP address and internal API.
type clusterNodeProc struct {
	t                 *testing.T
	id, sip, http     string
	args, env         []string
	out               *syncBuffer
	cmd               *exec.Cmd
	exited            chan error
	adminPW           string // the demo's customer admin, printed by the first node
	startedAt, killed time.Time
}

const clusterSecret = "cluster-test-secret-0123456789"

func startClusterNodeAt(t *testing.T, id, sip, db, storage, trunk string, rtp string, env []string) *clusterNodeProc {
	t.Helper()
	n := &clusterNodeProc{t: t, id: id, env: env, sip: sip, http: "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))}
	capi := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	n.args = []string{"serve", "--demo", "--data", t.TempDir(), "--db", db, "--storage", storage, "--http", n.http, "--sip", n.sip,
		"--trunk", trunk, "--rtp-ports", rtp, "--log-level", "info", "--node-id", id, "--cluster-addr", capi,
		"--cluster-secret", clusterSecret, "--drain-timeout", "2m"}
	n.start()
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("node %s log:\n%s", n.id, n.out)
		}
	})
	return n
}

func (n *clusterNodeProc) start() {
	n.t.Helper()
	n.out = &syncBuffer{}
	n.cmd = exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	n.cmd.Env = append(append(os.Environ(), n.env...), "CALLREC_SERVE_HELPER=1", "CALLREC_SERVE_ARGS="+strings.Join(n.args, "\t"),
		"CALLREC_ADMIN_PASSWORD=platform-admin-pw")
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(n.cmd, n.exited)
	n.startedAt = time.Now()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get("http://" + n.http + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-n.exited:
			n.t.Fatalf("node %s exited at start: %v\n%s", n.id, err, n.out)
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("node %s not up within 60 s\n%s", n.id, n.out)
		}
	}
	if m := regexp.MustCompile(`customer admin: user demo-admin, password (\S+)`).FindStringSubmatch(n.out.String()); m != nil {
		n.adminPW = m[1]
	}
}

// kill is kill -9.
func (n *clusterNodeProc) kill() {
	if n.cmd == nil || n.cmd.ProcessState != nil {
		return
	}
	_ = n.cmd.Process.Kill()
	n.killed = time.Now()
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
	}
}

func (n *clusterNodeProc) product() *product {
	return &product{t: n.t, http: n.http, sip: n.sip}
}

// clusterCall is a call as the platform admin's API shows it.
type clusterCall struct {
	ID        uint   `json:"id"`
	EngineID  string `json:"engine_id"`
	Node      string `json:"node"`
	State     string `json:"state"`
	Rec       string `json:"recording_state"`
	Outcome   string `json:"outcome"`
	Recording *struct {
		ID     uint   `json:"id"`
		FileID uint   `json:"file_id"` // the recordings API's id
		Status string `json:"status"`
		Size   int64  `json:"size"`
	} `json:"recording"`
	Events []struct {
		Kind   string `json:"kind"`
		Detail string `json:"detail"`
	} `json:"events"`
}

// clusterTokens are the platform admin's (who sees which node holds a call) and the customer
// admin's (who sees the recordings).
type clusterTokens struct{ root, cust string }

// allCalls is the call log with each call's node and recording.
func allCalls(p *product, tok clusterTokens) []clusterCall {
	get := func(tok string) []clusterCall {
		var out struct {
			Calls []clusterCall `json:"calls"`
		}
		if st := p.api(tok, "GET", "/calls?per_page=200", nil, &out); st != 200 {
			p.t.Fatalf("calls: %d", st)
		}
		return out.Calls
	}
	node := map[uint]string{}
	for _, c := range get(tok.root) {
		node[c.ID] = c.Node
	}
	cs := get(tok.cust)
	for i := range cs {
		cs[i].Node = node[cs[i].ID]
	}
	return cs
}

func byNode(cs []clusterCall) map[string][]clusterCall {
	m := map[string][]clusterCall{}
	for _, c := range cs {
		m[c.Node] = append(m[c.Node], c)
	}
	return m
}

// TestClusterBehindKamailio is `make test-cluster`: the shipped Kamailio configuration in front
// of two callrec nodes on one PostgreSQL database and one S3 bucket (SeaweedFS), sipp as the carrier on
// both sides. Calls are spread over both nodes; recording is stopped and started from node A's
// API on a call held by node B; B is killed with SIGKILL mid-call: A's calls go on and are
// recorded whole, start/stop on a B call answers 503 node_unavailable within 1 s, A ends B's
// calls as interrupted (node_lost in the trail) within 10 s of B's lease running out, new
// calls go to A; B comes back with its node id and uploads what its spool held; then B is
// drained from A's Nodes API while it holds a call, which ends normally, and B exits.
func TestClusterBehindKamailio(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	bucket := s3test.New(t)
	db := clusterDB(t)
	var env []string
	for k, v := range bucket.Env() {
		env = append(env, k+"="+v)
	}
	storage := "s3://" + bucket.Name + "/cluster"

	carrierPort := kamailiotest.FreeUDPPort(t, "127.0.0.5")
	carrier := "127.0.0.5:" + strconv.Itoa(carrierPort)
	// Kamailio's dispatcher.list names the nodes' SIP addresses: chosen first.
	ipA, ipB := "127.0.0.2", "127.0.0.3"
	sipA := net.JoinHostPort(ipA, strconv.Itoa(kamailiotest.FreeUDPPort(t, ipA)))
	sipB := net.JoinHostPort(ipB, strconv.Itoa(kamailiotest.FreeUDPPort(t, ipB)))
	proxy := kamailiotest.Start(t, kamailiotest.Config{Nodes: []string{sipA, sipB}, Carriers: []string{carrier}})

	a := startClusterNodeAt(t, "node-a", sipA, db, storage, proxy.Addr, "42000-42499", env)
	b := startClusterNodeAt(t, "node-b", sipB, db, storage, proxy.Addr, "42500-42999", env)
	pa, pb := a.product(), b.product()
	if a.adminPW == "" {
		t.Fatalf("no demo passwords printed\n%s", a.out)
	}
	root := tokenFor(t, db, "admin")
	cust := tokenFor(t, db, "demo-admin")
	pa.bookDemoPool(cust)
	tok := clusterTokens{root: root, cust: cust}
	for _, addr := range []string{sipA, sipB} {
		waitDispatcher(t, proxy, addr, true, 10*time.Second)
	}

	// The carrier: a callee for the destination legs, callers through Kamailio.
	callee := sipptest.Start(t, "sipp_proxy_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "50"},
		"-i", "127.0.0.5", "-mi", "127.0.0.5", "-p", strconv.Itoa(carrierPort), "-aa", "-m", "1000", "-l", "1000", "-timeout", "240s")
	defer callee.Kill()
	callers := func(n int, holdMS int) *sipptest.Sipp {
		return sipptest.Start(t, "sipp_proxy_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
			"AUDIO": sipptest.Testdata("caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": strconv.Itoa(holdMS), "FROM": "49711218431440"},
			"-i", "127.0.0.5", "-mi", "127.0.0.5", "-p", strconv.Itoa(kamailiotest.FreeUDPPort(t, "127.0.0.5")),
			"-s", "49711218431431", "-m", strconv.Itoa(n), "-l", strconv.Itoa(n), "-r", "10", "-timeout", "120s", proxy.Addr)
	}

	// 1. Twelve calls of 12 s: spread over both nodes, each node's live list shows all.
	const first = 12
	c1 := callers(first, 12000)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var out struct {
			Calls []clusterCall `json:"calls"`
		}
		pa.api(root, "GET", "/calls?state=active", nil, &out)
		connected := 0
		for _, c := range out.Calls {
			if c.State == "connected" {
				connected++
			}
		}
		if connected == first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls connected on node A's live list\nA:\n%s\nB:\n%s\ncarrier callee:\n%s", connected, first, a.out, b.out, callee.Output())
		}
	}
	var onB struct {
		Calls []clusterCall `json:"calls"`
	}
	pb.api(root, "GET", "/calls?state=active", nil, &onB)
	if len(onB.Calls) != first {
		t.Errorf("node B's live list: %d calls, want %d", len(onB.Calls), first)
	}
	nodes := byNode(allCalls(pa, tok))
	t.Logf("%d calls: %d on node-a, %d on node-b", first, len(nodes["node-a"]), len(nodes["node-b"]))
	if len(nodes["node-a"]) == 0 || len(nodes["node-b"]) == 0 || len(nodes["node-a"])+len(nodes["node-b"]) != first {
		t.Fatalf("calls not spread over both nodes: %v", nodes)
	}

	// 2. Stop and start recording from node A's API of a call held by node B.
	bCall := nodes["node-b"][0]
	id := strconv.Itoa(int(bCall.ID))
	var got clusterCall
	startAt := time.Now()
	if st := pa.api(cust, "POST", "/calls/"+id+"/recording/stop", nil, &got); st != 200 || got.Rec != "stopped" {
		t.Fatalf("stop from A of B's call: %d %+v", st, got)
	}
	stopTook := time.Since(startAt)
	startAt = time.Now()
	if st := pa.api(cust, "POST", "/calls/"+id+"/recording/start", nil, &got); st != 200 || got.Rec != "recording" {
		t.Fatalf("start from A of B's call: %d %+v", st, got)
	}
	t.Logf("stop from A on B: %s, start: %s", stopTook.Round(time.Millisecond), time.Since(startAt).Round(time.Millisecond))
	// B's own view says so too.
	var bView struct {
		Calls []clusterCall `json:"calls"`
	}
	pb.api(root, "GET", "/calls?state=active", nil, &bView)
	for _, c := range bView.Calls {
		if c.EngineID == bCall.EngineID && c.Rec != "recording" {
			t.Errorf("B's live list: recording state %q", c.Rec)
		}
	}

	// 3. kill -9 of node B mid-call.
	time.Sleep(time.Second)
	b.kill()
	startAt = time.Now()
	var eb struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if st := pa.api(cust, "POST", "/calls/"+id+"/recording/stop", nil, &eb); st != 503 || eb.Error.Code != "node_unavailable" {
		t.Errorf("stop of a dead node's call: %d %+v", st, eb)
	}
	if d := time.Since(startAt); d > time.Second {
		t.Errorf("node_unavailable took %s", d)
	}
	// A ends B's calls within 10 s of B's lease running out (6 s after its last heartbeat).
	var takeover time.Duration
	for deadline := b.killed.Add(clusterTTL + 10*time.Second); ; time.Sleep(200 * time.Millisecond) {
		open := 0
		for _, c := range byNode(allCalls(pa, tok))["node-b"] {
			if c.Outcome != "interrupted" {
				open++
			}
		}
		if open == 0 {
			takeover = time.Since(b.killed)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of node B's calls not ended %s after the kill\nA:\n%s", open, time.Since(b.killed), a.out)
		}
	}
	t.Logf("node B's %d calls ended as interrupted %s after kill -9", len(nodes["node-b"]), takeover.Round(100*time.Millisecond))
	var detail clusterCall
	pa.api(cust, "GET", "/calls/"+id, nil, &detail)
	if n := len(detail.Events); n == 0 || detail.Events[n-1].Kind != "node_lost" || !strings.Contains(detail.Events[n-1].Detail, "node-b") {
		t.Errorf("B's call's trail: %+v", detail.Events)
	}
	if detail.Recording == nil || detail.Recording.Status != "interrupted" {
		t.Errorf("B's call's recording: %+v", detail.Recording)
	}
	if st := pa.api(cust, "POST", "/calls/"+id+"/recording/start", nil, &eb); st != 409 || eb.Error.Code != "call_ended" {
		t.Errorf("start on a taken-over call: %d %+v", st, eb)
	}

	// A's calls were not touched: they end normally, their recordings are stored whole.
	_ = c1.Wait(t, 60*time.Second) // B's calls fail at the caller (their BYE finds no node)
	waitStored(t, pa, tok, "node-a", len(nodes["node-a"]))

	// 4. New calls go to the survivor.
	waitDispatcher(t, proxy, sipB, false, 6*time.Second)
	c2 := callers(4, 2000)
	if err := c2.Wait(t, 60*time.Second); err != nil {
		t.Fatalf("calls after node B died: %v\n%s", err, c2.Output())
	}
	if n := len(byNode(allCalls(pa, tok))["node-a"]); n != len(nodes["node-a"])+4 {
		t.Errorf("node A has %d calls, want %d", n, len(nodes["node-a"])+4)
	}

	// 5. B comes back with its id: its spool's recordings are repaired and stored.
	b.start()
	waitDispatcher(t, proxy, sipB, true, 10*time.Second)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		stored := 0
		for _, c := range byNode(allCalls(pa, tok))["node-b"] {
			var d struct {
				Recording *struct {
					FileID uint `json:"file_id"`
				} `json:"recording"`
			}
			pa.api(cust, "GET", "/calls/"+strconv.Itoa(int(c.ID)), nil, &d)
			if d.Recording == nil {
				continue
			}
			var r struct {
				Storage string `json:"storage"`
				Size    int64  `json:"size"`
			}
			pa.api(cust, "GET", "/recordings/"+strconv.Itoa(int(d.Recording.FileID)), nil, &r)
			if r.Storage == "stored" && r.Size > 44 {
				stored++
			}
		}
		if stored == len(nodes["node-b"]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of node B's %d lost recordings stored after its restart\nB:\n%s", stored, len(nodes["node-b"]), b.out)
		}
	}

	// 6. Drain B from A's Nodes API while B holds a call: the call ends normally, B exits.
	c3 := callers(2, 6000)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var ns struct {
			Nodes []struct {
				ID    string `json:"id"`
				Calls int    `json:"active_calls"`
			} `json:"nodes"`
		}
		pa.api(root, "GET", "/nodes", nil, &ns)
		onBNow := 0
		for _, n := range ns.Nodes {
			if n.ID == "node-b" {
				onBNow = n.Calls
			}
		}
		if onBNow > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no call on node B for the drain: %+v", ns)
		}
	}
	if st := pa.api(root, "POST", "/nodes/node-b/drain", nil, nil); st != http.StatusAccepted {
		t.Fatalf("drain B: %d", st)
	}
	if err := c3.Wait(t, 60*time.Second); err != nil {
		t.Errorf("calls during the drain: %v\n%s", err, c3.Output())
	}
	select {
	case err := <-b.exited:
		if err != nil {
			t.Errorf("B after its drain: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("B still running 20 s after its calls ended\n%s", b.out)
	}
	if !bytes.Contains([]byte(b.out.String()), []byte("drained: no calls left")) {
		t.Errorf("B did not drain:\n%s", b.out)
	}
	var ns struct {
		Nodes []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"nodes"`
	}
	pa.api(root, "GET", "/nodes", nil, &ns)
	if len(ns.Nodes) != 2 || ns.Nodes[1].State != "left" {
		t.Errorf("nodes after B's drain: %+v", ns.Nodes)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		open := 0
		for _, c := range allCalls(pa, tok) {
			if c.State != "ended" {
				open++
				if time.Now().After(deadline) {
					t.Errorf("call %d still %s at the end", c.ID, c.State)
				}
			}
		}
		if open == 0 || time.Now().After(deadline) {
			break
		}
	}
}
