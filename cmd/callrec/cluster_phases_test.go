package main

// The phases of TestClusterBehindKamailio, in the order it runs them.

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The callers' numbers tell the test's call streams apart in the call log.
const (
	fromLoad     = "49711218431440" // the 60 calls
	fromFailover = "49711218431441" // placed while node B dies
	fromDrain    = "49711218431442" // placed while node C drains
	fromPG       = "49711218431443" // connected when PostgreSQL restarts
	fromPGDown   = "49711218431444" // placed while PostgreSQL is away
	fromPrompt   = "49711218431445" // the announcement test's
	fromRoll     = "49711218431446" // placed during the rolling restart
)

const (
	loadCalls = 60
	// probeRate is the failover stream's calls a second; Kamailio probes every probeInterval.
	probeRate     = 2
	probeInterval = 2 * time.Second
)

type liveCall struct {
	ID       uint       `json:"id"`
	EngineID string     `json:"engine_id"`
	Node     string     `json:"node"`
	Caller   string     `json:"caller"`
	State    string     `json:"state"`
	Rec      string     `json:"recording_state"`
	Bridged  *time.Time `json:"bridged"`
}

func (r *clusterRig) live(n *clusterNodeProc, tok string) []liveCall {
	r.t.Helper()
	var out struct {
		Calls []liveCall `json:"calls"`
	}
	if st := n.product().api(tok, "GET", "/calls?state=active", nil, &out); st != 200 {
		r.t.Fatalf("node %s's live calls: %d", n.id, st)
	}
	return out.Calls
}

func connectedFrom(cs []liveCall, from string) []liveCall {
	var out []liveCall
	for _, c := range cs {
		if c.State == "connected" && c.Bridged != nil && c.Caller == from && c.ID != 0 {
			out = append(out, c)
		}
	}
	return out
}

// waitConnected waits until n calls from a number are bridged (recording) on node n's live list.
func (r *clusterRig) waitConnected(n *clusterNodeProc, from string, want int, within time.Duration) []liveCall {
	r.t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(250 * time.Millisecond) {
		cs := connectedFrom(r.live(n, r.tok.root), from)
		if len(cs) == want {
			return cs
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d of %d calls from %s connected on node %s's live list", len(cs), want, from, n.id)
		}
	}
}

// spread: 60 calls through Kamailio land on all three nodes, and every node lists all of them.
func (r *clusterRig) spread(m *clusterMeasures) *callStream {
	r.t.Helper()
	load := r.callers(fromLoad, loadCalls, 15, 40000)
	m.placed += loadCalls
	r.waitConnected(r.a, fromLoad, loadCalls, 60*time.Second)
	for _, n := range r.nodes() {
		r.waitConnected(n, fromLoad, loadCalls, 15*time.Second) // a peer slow to answer is left out for a moment
	}
	per := perNode(r.rows(from(fromLoad)))
	r.t.Logf("%d calls: %v", loadCalls, per)
	if per["node-a"] == 0 || per["node-b"] == 0 || per["node-c"] == 0 || per["node-a"]+per["node-b"]+per["node-c"] != loadCalls {
		r.t.Fatalf("calls not spread over the three nodes: %v", per)
	}
	return load
}

// controlAcrossNodes stops and starts recording of node B's calls from node A's API, and
// watches node C's live stream and live API show each change.
func (r *clusterRig) controlAcrossNodes(m *clusterMeasures) {
	r.t.Helper()
	// The live list does not name the node; the call log does.
	onB := r.rows(func(c callRow) bool {
		return c.Node == "node-b" && c.Ended == nil && c.Bridged != nil && c.A == fromLoad
	})
	if len(onB) < 10 {
		r.t.Fatalf("%d bridged calls on node B, want 10 to control", len(onB))
	}
	watch := watchLive(r.t, r.c.product().login("demo-admin", r.a.adminPW))
	defer watch.stop()
	pa := r.a.product()
	for i, call := range onB[:10] {
		for _, want := range []string{"stopped", "recording"} {
			action := map[string]string{"stopped": "stop", "recording": "start"}[want]
			var got liveCall
			t0 := time.Now()
			st := pa.api(r.tok.cust, "POST", "/calls/"+strconv.Itoa(int(call.ID))+"/recording/"+action, nil, &got)
			m.control = append(m.control, time.Since(t0))
			if st != 200 || got.Rec != want {
				r.t.Fatalf("%s from A of B's call %d: %d %+v", action, call.ID, st, got)
			}
			var onStream, onAPI bool
			for deadline := time.Now().Add(5 * time.Second); (!onStream || !onAPI) && time.Now().Before(deadline); {
				if !onStream {
					if at := watch.seen(call.ID, want, t0); !at.IsZero() {
						m.live, onStream = append(m.live, at.Sub(t0)), true
					}
				}
				if !onAPI {
					for _, c := range r.live(r.c, r.tok.cust) {
						if c.ID == call.ID && c.Rec == want {
							m.liveAPI, onAPI = append(m.liveAPI, time.Since(t0)), true
						}
					}
				}
				time.Sleep(25 * time.Millisecond)
			}
			if !onStream || !onAPI {
				r.t.Errorf("toggle %d (%s of call %d on B from A): node C's live stream %v, live API %v within 5 s", i, action, call.ID, onStream, onAPI)
			}
		}
	}
}

// failover is what killNodeB leaves for the later checks.
type failover struct {
	lost     []callRow // node B's calls at its death
	probe    *callStream
	killed   time.Time
	detected time.Time // Kamailio had B inactive
}

// killNodeB kills node B with SIGKILL under load and follows the failover: start/stop on its
// calls, new calls, the take-over of its calls, its restart and the upload of its spool.
func (r *clusterRig) killNodeB(m *clusterMeasures) failover {
	r.t.Helper()
	pa := r.a.product()
	var fo failover
	fo.lost = r.rows(func(c callRow) bool { return c.Node == "node-b" && c.Ended == nil })
	if len(fo.lost) == 0 {
		r.t.Fatal("node B holds no call to lose")
	}
	r.b.kill()
	fo.killed = r.b.killed
	fo.probe = r.callers(fromFailover, 20, probeRate, 14000)
	m.placed += 20

	// Start/stop of a dead node's call answers 503 node_unavailable at once.
	var eb struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	id := strconv.Itoa(int(fo.lost[0].ID))
	t0 := time.Now()
	st := pa.api(r.tok.cust, "POST", "/calls/"+id+"/recording/stop", nil, &eb)
	m.unavailable = time.Since(t0)
	if st != 503 || eb.Error.Code != "node_unavailable" {
		r.t.Errorf("stop of a dead node's call: %d %+v", st, eb)
	}
	if m.unavailable > time.Second {
		r.t.Errorf("node_unavailable took %s", m.unavailable)
	}

	fo.detected = waitDispatcher(r.t, r.proxy, r.b.sip, false, 20*time.Second)
	m.detect = fo.detected.Sub(fo.killed)

	// A peer ends B's calls within 10 s of B's lease running out.
	var beat, down time.Time
	var by string
	for deadline := fo.killed.Add(clusterTTL + 15*time.Second); ; time.Sleep(100 * time.Millisecond) {
		var state string
		err := r.sqldb.QueryRow(`SELECT state, heartbeat_at, COALESCE(down_at, heartbeat_at), down_by FROM nodes WHERE id = 'node-b'`).Scan(&state, &beat, &down, &by)
		if err == nil && state == "down" {
			m.takeover = time.Since(fo.killed)
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("node B not taken over %s after the kill: %s %v", time.Since(fo.killed), state, err)
		}
	}
	m.afterLease = down.Sub(beat.Add(clusterTTL))
	if m.afterLease > 10*time.Second {
		r.t.Errorf("B's calls ended %s after its lease ran out", m.afterLease)
	}
	lostIDs := map[uint]bool{}
	for _, c := range fo.lost {
		lostIDs[c.ID] = true
	}
	isLost := func(c callRow) bool { return lostIDs[c.ID] }
	ended := r.rows(isLost)
	if n := count(ended, func(c callRow) bool {
		return c.Outcome == "interrupted" && c.RecStatus == "interrupted" && c.Ended != nil
	}); n != len(fo.lost) {
		r.t.Errorf("%d of node B's %d calls ended as interrupted by %s", n, len(fo.lost), by)
	}
	var detail struct {
		Events []struct {
			Kind   string `json:"kind"`
			Detail string `json:"detail"`
		} `json:"events"`
	}
	pa.api(r.tok.cust, "GET", "/calls/"+id, nil, &detail)
	if n := len(detail.Events); n == 0 || detail.Events[n-1].Kind != "node_lost" || !strings.Contains(detail.Events[n-1].Detail, "node-b") {
		r.t.Errorf("B's call's trail: %+v", detail.Events)
	}
	if st := pa.api(r.tok.cust, "POST", "/calls/"+id+"/recording/start", nil, &eb); st != 409 || eb.Error.Code != "call_ended" {
		r.t.Errorf("start on a taken-over call: %d %+v", st, eb)
	}

	// B comes back with its id: its spooled recordings are repaired, uploaded and play.
	restarted := time.Now()
	r.b.restart()
	waitDispatcher(r.t, r.proxy, r.b.sip, true, 15*time.Second)
	stored := r.waitRows("node B's spooled recordings", isLost, len(fo.lost), func(c callRow) bool {
		return c.Storage == "stored" && c.Size > 44
	}, 60*time.Second)
	m.bUploaded = time.Since(restarted)
	dir := r.t.TempDir()
	for i, c := range stored {
		p := []*clusterNodeProc{r.a, r.c, r.b}[i%3].product()
		full, st := p.get(r.tok.cust, "/api/v1/recordings/"+strconv.Itoa(int(c.FileID))+"/audio", "")
		end := c.Size / 2
		part, pst := p.get(r.tok.cust, "/api/v1/recordings/"+strconv.Itoa(int(c.FileID))+"/audio", "bytes=1000-"+strconv.FormatInt(end-1, 10))
		if st != 200 || int64(len(full)) != c.Size || pst != 206 || end <= 1000 || !bytes.Equal(part, full[1000:end]) {
			r.t.Errorf("B's spooled recording of call %d: %d (%d bytes of %d), range %d (%d bytes)", c.ID, st, len(full), c.Size, pst, len(part))
			continue
		}
		f := filepath.Join(dir, strconv.Itoa(int(c.ID))+".wav")
		if err := os.WriteFile(f, full, 0o600); err != nil {
			r.t.Fatal(err)
		}
		ch, rate, pcm := wav16(r.t, f)
		d := time.Duration(len(pcm)/max(ch, 1)) * time.Second / time.Duration(rate)
		lag := fo.killed.Sub(*c.Bridged) - d
		m.spoolLag = max(m.spoolLag, lag)
		if ch != 2 || d < time.Second || lag < -time.Second || lag > 5*time.Second || rms(pcm, 2, 0) < 300 || rms(pcm, 2, 1) < 300 {
			r.t.Errorf("B's spooled recording of call %d: %d channels, %s for a call bridged %s before the kill, rms %.0f / %.0f",
				c.ID, ch, d, fo.killed.Sub(*c.Bridged), rms(pcm, 2, 0), rms(pcm, 2, 1))
		}
	}
	return fo
}

// drainNodeC sends SIGTERM to node C while it holds calls: Kamailio takes it out of rotation,
// new calls go to A and B, C's calls end normally and C exits. It returns when C received the
// signal and the stream of calls placed meanwhile.
func (r *clusterRig) drainNodeC(m *clusterMeasures) (time.Time, *callStream) {
	r.t.Helper()
	held := r.rows(func(c callRow) bool { return c.Node == "node-c" && c.Ended == nil })
	if len(held) == 0 {
		r.t.Fatal("node C holds no call to drain")
	}
	termAt := time.Now()
	r.c.term()
	waitDispatcher(r.t, r.proxy, r.c.sip, false, 15*time.Second)
	during := r.callers(fromDrain, 10, 1, 14000)
	m.placed += 10
	select {
	case err := <-r.c.exited:
		m.drainExit = time.Since(termAt)
		if err != nil {
			r.t.Errorf("node C after its drain: %v", err)
		}
	case <-time.After(120 * time.Second):
		r.t.Fatalf("node C still running 120 s after SIGTERM")
	}
	if !strings.Contains(r.c.out.String(), "drained: no calls left") {
		r.t.Errorf("node C did not drain:\n%s", lastLines(r.c.out.String(), 30))
	}
	ids := map[uint]bool{}
	for _, c := range held {
		ids[c.ID] = true
	}
	for _, c := range r.rows(func(c callRow) bool { return ids[c.ID] }) {
		if c.Outcome != "completed" || c.Ended == nil || c.Ended.After(termAt.Add(m.drainExit)) {
			r.t.Errorf("node C's call %d during the drain: %s %s, ended %v", c.ID, c.State, c.Outcome, c.Ended)
		}
	}
	if late := r.rows(func(c callRow) bool { return c.Node == "node-c" && c.Arrival.After(termAt) }); len(late) > 0 {
		r.t.Errorf("node C took %d calls after SIGTERM", len(late))
	}
	return termAt, during
}

// checkSurvivors waits for the streams of calls and checks every recording that is not node
// B's lost ones: stored, and exact. It counts the failover stream's failures.
func (r *clusterRig) checkSurvivors(m *clusterMeasures, load *callStream, fo failover, drain *callStream) {
	r.t.Helper()
	_ = load.sipp.Wait(r.t, 120*time.Second) // node B's callers fail: their BYE finds no dialog
	_ = fo.probe.sipp.Wait(r.t, 120*time.Second)
	if err := drain.sipp.Wait(r.t, 120*time.Second); err != nil {
		r.t.Errorf("calls during node C's drain: %v", err)
	}
	okLoad := 0
	for _, c := range load.calls(r.t) {
		if c.ok() {
			okLoad++
		}
	}
	if okLoad != loadCalls-len(fo.lost) {
		r.t.Errorf("%d of the %d calls not on node B ended normally at their caller", okLoad, loadCalls-len(fo.lost))
	}
	probe := fo.probe.calls(r.t)
	m.probeCalls = len(probe)
	okProbe := 0
	for _, c := range probe {
		if c.ok() {
			okProbe++
			if d := c.answered.Sub(fo.killed); m.firstCallAfterKill == 0 || d < m.firstCallAfterKill {
				m.firstCallAfterKill = d
			}
			continue
		}
		m.probeFailed++
		r.t.Logf("failover call %s: INVITE %s after the kill, final %d, hung up %v", c.id, c.invite.Sub(fo.killed).Round(time.Millisecond), c.final, c.hungUp)
		if c.invite.After(fo.detected) {
			r.t.Errorf("call %s placed %s after Kamailio had node B down failed", c.id, c.invite.Sub(fo.detected))
		}
	}
	if len(probe) != 20 {
		r.t.Errorf("failover stream: %d calls placed, want 20", len(probe))
	}
	if limit := int(probeRate * probeInterval / time.Second); m.probeFailed > limit {
		r.t.Errorf("%d calls failed during the failover; at most one probe interval's worth (%d) may", m.probeFailed, limit)
	}
	okDrain := len(drain.calls(r.t))
	lost := map[uint]bool{}
	for _, c := range fo.lost {
		lost[c.ID] = true
	}
	survivors := func(c callRow) bool {
		return !lost[c.ID] && (c.A == fromLoad || c.A == fromFailover || c.A == fromDrain)
	}
	want := loadCalls - len(fo.lost) + okProbe + okDrain
	rows := r.waitRows("the calls that were not node B's", survivors, want, storedWhole, 60*time.Second)
	ex := r.checkExact(rows, r.a, r.b)
	m.exact.files += ex.files
	m.exact.maxDelta = max(m.exact.maxDelta, ex.maxDelta)
	m.exact.crossed += ex.crossed
}

// rollingRestart restarts every node in turn while calls keep coming: node C (drained before)
// comes back, then A and B are each sent SIGTERM, drain, exit and start again. No call of the
// stream placed meanwhile fails, and every one is recorded whole.
func (r *clusterRig) rollingRestart(m *clusterMeasures) {
	r.t.Helper()
	began := time.Now()
	r.c.restart()
	waitDispatcher(r.t, r.proxy, r.c.sip, true, 15*time.Second)
	const n = 40
	stream := r.callers(fromRoll, n, 1, 14000)
	m.placed += n
	for _, node := range []*clusterNodeProc{r.a, r.b} {
		time.Sleep(3 * time.Second) // the node holds some of the stream's calls
		node.term()
		waitDispatcher(r.t, r.proxy, node.sip, false, 15*time.Second)
		select {
		case err := <-node.exited:
			if err != nil {
				r.t.Errorf("node %s after its drain: %v", node.id, err)
			}
		case <-time.After(90 * time.Second):
			r.t.Fatalf("node %s still running 90 s after SIGTERM", node.id)
		}
		node.restart()
		waitDispatcher(r.t, r.proxy, node.sip, true, 15*time.Second)
	}
	if err := stream.sipp.Wait(r.t, 120*time.Second); err != nil {
		r.t.Errorf("calls during the rolling restart: %v", err)
	}
	failed := 0
	for _, c := range stream.calls(r.t) {
		if !c.ok() {
			failed++
		}
	}
	m.rolling, m.rollingFailed = time.Since(began), failed
	if failed > 0 {
		r.t.Errorf("%d of %d calls failed during the rolling restart", failed, n)
	}
	rows := r.waitRows("the calls during the rolling restart", from(fromRoll), n, storedWhole, 60*time.Second)
	r.t.Logf("rolling restart: %d calls on %v", n, perNode(rows))
	ex := r.checkExact(rows, r.a, r.b, r.c)
	m.exact.files += ex.files
	m.exact.maxDelta = max(m.exact.maxDelta, ex.maxDelta)
	m.exact.crossed += ex.crossed
}
