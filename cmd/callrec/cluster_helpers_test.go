package main

// What the cluster test reads and waits for: the calls in the database, Kamailio's dispatcher,
// sipp's message logs, a live page's stream, stored recordings and their audio.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callrec/internal/kamailiotest"
	"callrec/internal/sipptest"
)

// tokenFor makes an API token for user through the CLI, on the shared database.
func tokenFor(t *testing.T, db, user string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"apikey", "create", "--user", user, "--db", db}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}

// waitDispatcher waits until Kamailio's dispatcher has the node at addr active (or inactive)
// and returns when it saw it.
func waitDispatcher(t *testing.T, p *kamailiotest.Proxy, addr string, active bool, within time.Duration) time.Time {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		if d, ok := p.Node(addr); ok && d.Active() == active {
			return time.Now()
		}
		if time.Now().After(deadline) {
			ds, _ := p.Destinations()
			t.Fatalf("dispatcher: %s active=%v not reached within %s: %+v", addr, active, within, ds)
		}
	}
}

// callRow is a call as the shared database holds it, with its recording.
type callRow struct {
	ID                     uint
	Engine, Node, A, State string
	Outcome, RecStatus     string
	Storage                string
	Arrival                time.Time
	Bridged, Ended         *time.Time
	DurMS, RecDurMS, Size  int64
	FileID                 uint
}

// rows reads every call of the cluster, by id; filter keeps some (nil: all).
func (r *clusterRig) rows(filter func(callRow) bool) []callRow {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := r.sqldb.QueryContext(ctx, `SELECT c.id, c.engine_id, c.node_id, c.a, c.state, c.outcome, c.arrival, c.bridged, c.ended,
		c.duration_ms, COALESCE(r.status, ''), COALESCE(r.storage, ''), COALESCE(r.duration_ms, 0), COALESCE(r.size, 0), COALESCE(r.file_id, 0)
		FROM calls c LEFT JOIN recordings r ON r.call_id = c.id ORDER BY c.id`)
	if err != nil {
		r.t.Fatalf("reading the calls: %v", err)
	}
	defer q.Close()
	var out []callRow
	for q.Next() {
		var c callRow
		var b, e sql.NullTime
		if err := q.Scan(&c.ID, &c.Engine, &c.Node, &c.A, &c.State, &c.Outcome, &c.Arrival, &b, &e, &c.DurMS,
			&c.RecStatus, &c.Storage, &c.RecDurMS, &c.Size, &c.FileID); err != nil {
			r.t.Fatal(err)
		}
		if b.Valid {
			c.Bridged = &b.Time
		}
		if e.Valid {
			c.Ended = &e.Time
		}
		if filter == nil || filter(c) {
			out = append(out, c)
		}
	}
	if err := q.Err(); err != nil {
		r.t.Fatal(err)
	}
	return out
}

func from(a string) func(callRow) bool { return func(c callRow) bool { return c.A == a } }

func count(rows []callRow, f func(callRow) bool) int {
	n := 0
	for _, c := range rows {
		if f(c) {
			n++
		}
	}
	return n
}

func perNode(rows []callRow) map[string]int {
	m := map[string]int{}
	for _, c := range rows {
		m[c.Node]++
	}
	return m
}

// waitRows waits until n calls pass filter and every one of them passes done.
func (r *clusterRig) waitRows(what string, filter func(callRow) bool, n int, done func(callRow) bool, within time.Duration) []callRow {
	r.t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(250 * time.Millisecond) {
		rows := r.rows(filter)
		if len(rows) == n && count(rows, done) == n {
			return rows
		}
		if time.Now().After(deadline) {
			for _, c := range rows {
				if !done(c) {
					r.t.Logf("call %d %s on %s from %s: %s %s, recording %s %s", c.ID, c.Engine, c.Node, c.A, c.State, c.Outcome, c.RecStatus, c.Storage)
				}
			}
			r.t.Fatalf("%s: %d calls, %d done, want %d", what, len(rows), count(rows, done), n)
		}
	}
}

// storedWhole is a call that ended normally with its recording complete and in the bucket.
func storedWhole(c callRow) bool {
	return c.State == "ended" && c.Outcome == "completed" && c.RecStatus == "complete" && c.Storage == "stored"
}

// exactness is how far the recordings checked were from their calls.
type exactness struct {
	files    int
	maxDelta time.Duration
	crossed  int // files whose caller channel is not the caller's 440 Hz or whose callee channel is not 1000 Hz
}

// checkExact downloads each call's recording (from the nodes in turn, so a file made on one
// node is played from another) and checks it: a stereo WAV as long as its call was connected
// (within 40 ms), with the caller's tone left and the callee's right.
func (r *clusterRig) checkExact(rows []callRow, via ...*clusterNodeProc) exactness {
	r.t.Helper()
	var ex exactness
	dir := r.t.TempDir()
	for i, c := range rows {
		n := via[i%len(via)]
		b, st := n.product().get(r.tok.cust, "/api/v1/recordings/"+strconv.Itoa(int(c.FileID))+"/audio", "")
		if st != 200 {
			r.t.Errorf("call %d (node %s): its recording from node %s: %d", c.ID, c.Node, n.id, st)
			continue
		}
		f := filepath.Join(dir, strconv.Itoa(int(c.ID))+".wav")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			r.t.Fatal(err)
		}
		ch, rate, pcm := wav16(r.t, f)
		d := time.Duration(len(pcm)/max(ch, 1)) * time.Second / time.Duration(rate)
		call := time.Duration(c.DurMS) * time.Millisecond
		delta := d - call
		if delta < 0 {
			delta = -delta
		}
		ex.files++
		ex.maxDelta = max(ex.maxDelta, delta)
		if ch == 2 && (!toneIs(pcm, 0, 440, 1000) || !toneIs(pcm, 1, 1000, 440)) {
			ex.crossed++
			r.t.Logf("call %d on %s: a channel does not carry its side's tone (a stale stream latched?)", c.ID, c.Node)
		}
		if ch != 2 || call < 5*time.Second || delta > 40*time.Millisecond || rms(pcm, 2, 0) < 300 || rms(pcm, 2, 1) < 300 {
			r.t.Errorf("call %d on %s: %d channels, %s for a call connected %s, rms %.0f / %.0f", c.ID, c.Node, ch, d, call, rms(pcm, 2, 0), rms(pcm, 2, 1))
		}
	}
	return ex
}

// callStream is one sipp caller through Kamailio: n calls from one number, every message
// logged (-trace_shortmsg) so each call's outcome and time are known.
type callStream struct {
	sipp    *sipptest.Sipp
	from    string
	started time.Time
}

func (r *clusterRig) callers(from string, n, rate, holdMS int) *callStream {
	r.t.Helper()
	s := &callStream{from: from, started: time.Now()}
	s.sipp = sipptest.Start(r.t, "sipp_proxy_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": strconv.Itoa(holdMS), "FROM": from},
		"-i", "127.0.0.5", "-mi", "127.0.0.5", "-p", strconv.Itoa(kamailiotest.FreeUDPPort(r.t, "127.0.0.5")),
		"-s", "49711218431431", "-m", strconv.Itoa(n), "-l", strconv.Itoa(n), "-r", strconv.Itoa(rate),
		"-timeout", "180s", "-trace_shortmsg", r.proxy.Addr)
	return s
}

// sippCall is one call of a stream as its caller saw it.
type sippCall struct {
	id        string
	invite    time.Time // first INVITE sent
	answered  time.Time // 200 to the INVITE (zero: never)
	final     int       // the INVITE's final answer (0: none)
	hungUp    bool      // BYE answered 200
	byeFailed bool      // BYE sent, no 200
}

func (c sippCall) ok() bool { return !c.answered.IsZero() && c.hungUp }

var shortRE = regexp.MustCompile(`^SIP/2\.0 (\d{3})`)

// calls reads the stream's message log.
func (s *callStream) calls(t *testing.T) []sippCall {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(s.sipp.Dir(), "*_shortmessages.log"))
	byID := map[string]*sippCall{}
	var order []string
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Split(sc.Text(), "\t")
			if len(f) < 7 {
				continue
			}
			sec, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				continue
			}
			at := time.Unix(0, int64(sec*1e9))
			c := byID[f[4]]
			if c == nil {
				c = &sippCall{id: f[4]}
				byID[f[4]] = c
				order = append(order, f[4])
			}
			method := strings.TrimPrefix(f[5], "CSeq:")
			m := shortRE.FindStringSubmatch(f[6])
			switch {
			case f[3] == "S" && strings.HasSuffix(method, " INVITE") && c.invite.IsZero():
				c.invite = at
			case f[3] == "R" && m != nil && strings.HasSuffix(method, " INVITE"):
				code, _ := strconv.Atoi(m[1])
				if code >= 200 && c.final == 0 {
					c.final = code
					if code == 200 {
						c.answered = at
					}
				}
			case f[3] == "S" && strings.HasSuffix(method, " BYE"):
				c.byeFailed = !c.hungUp
			case f[3] == "R" && m != nil && strings.HasSuffix(method, " BYE") && m[1] == "200":
				c.hungUp, c.byeFailed = true, false
			}
		}
	}
	out := make([]sippCall, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].invite.Before(out[j].invite) })
	return out
}

// liveWatch is a logged-in user's Live calls stream (the page's Server-Sent Events) on one
// node: every event it received, when, with each row's recording state.
type liveWatch struct {
	mu     sync.Mutex
	events []liveEvent
	cancel context.CancelFunc
	done   chan struct{}
}

type liveEvent struct {
	at  time.Time
	rec map[uint]string // call id -> data-rec
}

var liveRowRE = regexp.MustCompile(`data-testid="live-row-(\d+)" data-state="[a-z_]*" data-rec="([a-z_]*)"`)

func watchLive(t *testing.T, b *browser) *liveWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &liveWatch{cancel: cancel, done: make(chan struct{})}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+b.p.http+"/calls/live/events", nil)
	res, err := b.http.Do(req)
	if err != nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("live stream: %v %v", err, res)
	}
	go func() {
		defer close(w.done)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "data: "); ok {
				data.WriteString(rest)
				continue
			}
			if line != "" || data.Len() == 0 {
				continue
			}
			ev := liveEvent{at: time.Now(), rec: map[uint]string{}}
			for _, m := range liveRowRE.FindAllStringSubmatch(data.String(), -1) {
				id, _ := strconv.Atoi(m[1])
				ev.rec[uint(id)] = m[2]
			}
			data.Reset()
			w.mu.Lock()
			w.events = append(w.events, ev)
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *liveWatch) stop() { w.cancel(); <-w.done }

// seen is when the stream first showed call id in state rec after after (zero: not yet).
func (w *liveWatch) seen(id uint, rec string, after time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.at.After(after) && e.rec[id] == rec {
			return e.at
		}
	}
	return time.Time{}
}

// clusterMeasures are the run's figures, logged at the end (BENCHMARKS.md has a run).
type clusterMeasures struct {
	control, live, liveAPI        []time.Duration // start/stop from A on B; to C's stream; to C's API
	unavailable                   time.Duration   // start/stop on a dead node's call
	detect, takeover, afterLease  time.Duration   // Kamailio saw B gone; B's calls ended; after B's lease ran out
	firstCallAfterKill, bUploaded time.Duration
	probeCalls, probeFailed       int
	placed                        int
	exact                         exactness
	pgDown, pgRecovered           time.Duration
	drainExit                     time.Duration
	spoolLag                      time.Duration
	rolling                       time.Duration
	rollingFailed                 int
}

// toneIs reports whether channel ch of interleaved stereo pcm has more power at hz than at other.
func toneIs(pcm []int16, ch int, hz, other float64) bool {
	mono := make([]int16, 0, len(pcm)/2)
	for i := ch; i < len(pcm); i += 2 {
		mono = append(mono, pcm[i])
	}
	return goertzel(mono, hz) > goertzel(mono, other)
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func (m *clusterMeasures) report(t *testing.T) {
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		t.Logf("machine: %d CPUs, load average %s", runtime.NumCPU(), strings.TrimSpace(string(load)))
	}
	t.Logf("calls placed: %d; recordings checked exact: %d (largest length difference %s, %d with a channel not its side's tone); lost recordings: 0",
		m.placed, m.exact.files, ms(m.exact.maxDelta), m.exact.crossed)
	t.Logf("start/stop from A on a B call: n=%d p50 %s p99 %s max %s", len(m.control), ms(pct(m.control, .5)), ms(pct(m.control, .99)), ms(pct(m.control, 1)))
	t.Logf("engine change on B to C's live stream (from the request on A): n=%d p50 %s p99 %s max %s", len(m.live), ms(pct(m.live, .5)), ms(pct(m.live, .99)), ms(pct(m.live, 1)))
	t.Logf("to C's live API (polled every 25 ms): n=%d p50 %s p99 %s", len(m.liveAPI), ms(pct(m.liveAPI, .5)), ms(pct(m.liveAPI, .99)))
	t.Logf("kill -9 of B: node_unavailable in %s; Kamailio marked B down %s after the kill; first new call answered %s after; "+
		"B's calls interrupted %s after the kill (%s after its lease ran out); %d calls placed during the failover, %d failed",
		ms(m.unavailable), ms(m.detect), ms(m.firstCallAfterKill), ms(m.takeover), ms(m.afterLease), m.probeCalls, m.probeFailed)
	t.Logf("B restarted: its spooled recordings stored %s after its start; they end %s before the kill", ms(m.bUploaded), ms(m.spoolLag))
	t.Logf("SIGTERM to C: exited %s after the signal, when its last call ended", ms(m.drainExit))
	t.Logf("PostgreSQL down %s; API answered again %s after its start", ms(m.pgDown), ms(m.pgRecovered))
	t.Logf("rolling restart of the three nodes: %s, %d calls failed", ms(m.rolling), m.rollingFailed)
}
