package web

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"callrec/internal/browsertest"
	"callrec/internal/sipptest"
	"callrec/internal/testtool"
	"callrec/media"
	"callrec/models"
	"callrec/templates"
)

// The whole product for a test: the real engine on 127.0.0.1, wired to the store and this
// server the way cmd/callrec wires them (a Directory on the pools, a Sink that saves the call
// and then tells the Live calls pages), and sipp as caller and destination.

// storeDirectory routes dialed numbers by the store's pools; the recording policy per pool
// comes from the test (the booking module decides it in the product).
type storeDirectory struct {
	store  *models.Store
	policy func(models.Pool) media.Policy
}

func (d *storeDirectory) Route(ctx context.Context, dialed string) (media.Route, error) {
	p, err := d.store.PoolByNumber(ctx, dialed)
	if errors.Is(err, models.ErrNotFound) {
		return media.Route{}, media.ErrUnknownNumber
	}
	if err != nil {
		return media.Route{}, err
	}
	r := media.Route{CustomerID: p.CustomerID, PoolID: p.ID, StartNumber: p.StartNumber, Destination: p.Destination,
		Recording: d.policy(p)}
	if p.Customer != nil {
		r.SubscriberID, r.Location = p.Customer.SubscriberID, p.Customer.Location()
	}
	return r, nil
}

// storeSink saves every change and then publishes it, as the lead's sink in cmd/callrec does.
type storeSink struct {
	store *models.Store
	srv   *Server

	mu        sync.Mutex
	err       error                // the first SaveCall error (checked by waitEnded)
	connected map[string]time.Time // when the sink first saw each call connected
	ended     chan media.CallInfo
	endedAt   map[string]time.Time
}

func liveRecord(c media.CallInfo, final bool) models.CallRecord {
	r := models.CallRecord{EngineID: c.ID, CustomerID: c.CustomerID, PoolID: c.PoolID, SubscriberID: c.SubscriberID,
		StartNumber: c.StartNumber, A: c.A, B: c.B, C: c.C, Arrival: c.Arrival, Answered: c.Answered, Bridged: c.Bridged,
		Ended: c.Ended, State: string(c.State), RecState: string(c.Rec), Mode: string(c.Mode), Outcome: string(c.Outcome),
		Recorded: c.Recorded}
	for _, e := range c.Events {
		r.Events = append(r.Events, models.CallEventRecord{At: e.At, Kind: e.Kind, By: e.By, Detail: e.Detail})
	}
	for _, sg := range c.Segments {
		r.Segments = append(r.Segments, [2]time.Duration{sg.Start, sg.End})
	}
	if c.Recording != nil {
		r.Recording = &models.RecordingRecord{Path: c.Recording.Path, Channels: c.Recording.Channels, Size: c.Recording.Size,
			Duration: c.Recording.Duration, Recorded: c.Recording.Recorded, Failed: c.Recording.Failed, Final: final}
	}
	return r
}

func (s *storeSink) CallChanged(ctx context.Context, c media.CallInfo) {
	_, err := s.store.SaveCall(ctx, liveRecord(c, false))
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	if _, ok := s.connected[c.ID]; !ok && c.State == media.StateConnected {
		s.connected[c.ID] = time.Now()
	}
	s.mu.Unlock()
	s.srv.CallChanged(c)
}

func (s *storeSink) CallEnded(ctx context.Context, c media.CallInfo) {
	_, err := s.store.SaveCall(ctx, liveRecord(c, true))
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.endedAt[c.ID] = time.Now()
	s.mu.Unlock()
	s.srv.CallEnded(c)
	s.ended <- c
}

func (s *storeSink) waitEnded(t *testing.T) media.CallInfo {
	t.Helper()
	select {
	case c := <-s.ended:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.err != nil {
			t.Fatalf("SaveCall: %v", s.err)
		}
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no call ended")
	}
	return media.CallInfo{}
}

type liveEnv struct {
	*env
	eng   *media.Engine
	sink  *storeSink
	trunk int
}

// testPolicy is the recording module as booked: mode, with or without the caller notice.
func testPolicy(t *testing.T, mode media.Mode, notice bool) media.Policy {
	return media.Policy{Active: true, Mode: mode, CallerNotice: notice, Prompts: media.Prompts{
		CallerNotice:          sipptest.Testdata("notice.wav"),
		ObjectionConfirmation: sipptest.Testdata("confirmation.wav"),
		CalleeWhisper:         "", // the destination hears nothing extra: shorter calls
	}}
}

func newLiveEnv(t *testing.T, policy func(models.Pool) media.Policy) *liveEnv {
	t.Helper()
	testtool.Need(t, "sipp", "sip-tester")
	trunk := sipptest.FreePort(t)
	dir := &storeDirectory{policy: policy}
	sink := &storeSink{connected: map[string]time.Time{}, endedAt: map[string]time.Time{}, ended: make(chan media.CallInfo, 8)}
	var eng *media.Engine
	e := newEnvWith(t, func(c *Config) {
		var err error
		eng, err = media.New(media.Config{SIPAddr: "127.0.0.1:0", Trunk: "127.0.0.1:" + strconv.Itoa(trunk),
			RTPPorts: [2]int{40000, 43999}, DataDir: c.DataDir, RingTimeout: 10 * time.Second,
			ObjectionWindow: 500 * time.Millisecond, BusyTone: 500 * time.Millisecond}, dir, sink)
		if err != nil {
			t.Fatal(err)
		}
		c.Engine = eng
	})
	dir.store, sink.store, sink.srv = e.store, e.store, e.web
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = eng.Run(ctx); close(done) }()
	t.Cleanup(func() { // before the store closes (cleanups run last first)
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("engine did not stop")
		}
	})
	return &liveEnv{env: e, eng: eng, sink: sink, trunk: trunk}
}

// startCallee answers n calls on the trunk with 1000 Hz; startCaller calls dialed from `from`
// with 440 Hz for holdMS after the answer (after actions, e.g. a '*' pcap).
func (le *liveEnv) startCallee(t *testing.T, n int) *sipptest.Sipp {
	t.Helper()
	s := sipptest.Start(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "200"},
		"-m", strconv.Itoa(n), "-p", strconv.Itoa(le.trunk))
	time.Sleep(200 * time.Millisecond) // let it bind before an INVITE reaches it
	return s
}

func (le *liveEnv) startCaller(t *testing.T, from, dialed string, holdMS int, actions string) *sipptest.Sipp {
	t.Helper()
	return sipptest.Start(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("caller_440.ulaw"), "ACTIONS": actions, "HOLD_MS": strconv.Itoa(holdMS), "FROM": from},
		"-m", "1", "-p", strconv.Itoa(sipptest.FreePort(t)), "-s", dialed, le.eng.SIPAddr())
}

// liveCall waits until the engine has a connected call and returns it.
func (le *liveEnv) liveCall(t *testing.T) media.CallInfo {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, c := range le.eng.Calls() {
			if c.State == media.StateConnected {
				return c
			}
		}
	}
	t.Fatal("no connected call")
	return media.CallInfo{}
}

func (le *liveEnv) callID(t *testing.T, engineID string) uint {
	t.Helper()
	ids, err := le.store.CallIDs(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, []string{engineID})
	if err != nil || ids[engineID] == 0 {
		t.Fatalf("call %s not saved: %v", engineID, err)
	}
	return ids[engineID]
}

// sseEvent is one event of a Live calls stream as a client got it.
type sseGot struct {
	at   time.Time
	data string
}

// openStream reads the Live calls stream of a logged-in client until the test ends.
func (le *liveEnv) openStream(t *testing.T, c *client) <-chan sseGot {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", le.srv.URL+"/calls/live/events", nil)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sseGot, 256)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var data strings.Builder
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data.WriteString(line[6:])
				data.WriteByte('\n')
			case line == "":
				if event == "calls" {
					out <- sseGot{at: time.Now(), data: data.String()}
				}
				event = ""
				data.Reset()
			}
		}
	}()
	return out
}

// awaitEvent reads events until one satisfies ok.
func awaitEvent(t *testing.T, ch <-chan sseGot, what string, ok func(string) bool) sseGot {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, open := <-ch:
			if !open {
				t.Fatalf("stream closed waiting for %s", what)
			}
			if ok(ev.data) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no event with %s", what)
		}
	}
}

// readWAV reads a 16-bit PCM WAV: channels and interleaved samples.
func readWAV(t *testing.T, path string) (int, []int16) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not a WAV file", path)
	}
	channels := 0
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8:]
		switch id {
		case "fmt ":
			channels = int(binary.LittleEndian.Uint16(body[2:]))
			if bits, rate := binary.LittleEndian.Uint16(body[14:]), binary.LittleEndian.Uint32(body[4:]); bits != 16 || rate != 8000 {
				t.Fatalf("%d bits, %d Hz", bits, rate)
			}
		case "data":
			size = min(size, len(body))
			pcm := make([]int16, size/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return channels, pcm
		}
		off += 8 + size + size&1
	}
	t.Fatalf("%s: no data chunk", path)
	return 0, nil
}

// rmsAndPeak of all channels between two offsets.
func rmsAndPeak(pcm []int16, channels int, from, to time.Duration) (rms float64, peak int) {
	a, b := max(0, int(from.Seconds()*8000))*channels, min(len(pcm), int(to.Seconds()*8000)*channels)
	if a >= b {
		return 0, 0
	}
	var sum float64
	for _, v := range pcm[a:b] {
		sum += float64(v) * float64(v)
		peak = max(peak, int(math.Abs(float64(v))))
	}
	return math.Sqrt(sum / float64(b-a)), peak
}

// checkRecording measures the file of an ended call: its length is the connected time, it is
// digital silence outside the recorded segments and has sound inside them.
func (le *liveEnv) checkRecording(t *testing.T, c media.CallInfo, segs [][2]int64) {
	t.Helper()
	if c.Recording == nil {
		t.Fatal("no recording")
	}
	ch, pcm := readWAV(t, filepath.Join(le.dir, filepath.FromSlash(c.Recording.Path)))
	length := time.Duration(len(pcm)/ch) * time.Second / 8000
	connected := c.Ended.Sub(c.Bridged)
	t.Logf("file %v, connected %v (difference %v); segments %v ms", length, connected, length-connected, segs)
	if d := length - connected; d < -40*time.Millisecond || d > 40*time.Millisecond {
		t.Errorf("file length %v, connected time %v: more than 40 ms apart", length, connected)
	}
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	prev := time.Duration(0)
	for _, sg := range segs {
		outR, outPeak := rmsAndPeak(pcm, ch, prev, ms(sg[0])-20*time.Millisecond)
		inR, _ := rmsAndPeak(pcm, ch, ms(sg[0])+200*time.Millisecond, ms(sg[1])-200*time.Millisecond)
		t.Logf("before segment %v-%v: peak %d; inside: rms %.0f", ms(sg[0]), ms(sg[1]), outPeak, inR)
		if outPeak != 0 || outR != 0 {
			t.Errorf("not digital silence before the segment at %v: peak %d", ms(sg[0]), outPeak)
		}
		if inR < 1000 {
			t.Errorf("no sound inside the segment %v-%v: rms %.0f", ms(sg[0]), ms(sg[1]), inR)
		}
		prev = ms(sg[1]) + 20*time.Millisecond
	}
	if _, peak := rmsAndPeak(pcm, ch, prev, length); peak != 0 {
		t.Errorf("not digital silence after the last segment: peak %d", peak)
	}
}

func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

// checkSegment: the recorded segment starts while the Start request was under way and ends
// while the Stop request was (offsets from the bridge, ms; 20 ms for rounding to ms).
func checkSegment(t *testing.T, bridged time.Time, seg [2]int64, start, stop [2]time.Time) {
	t.Helper()
	in := func(v int64, w [2]time.Time) bool {
		off := time.Duration(v) * time.Millisecond
		return off >= w[0].Sub(bridged)-20*time.Millisecond && off <= w[1].Sub(bridged)+20*time.Millisecond
	}
	if !in(seg[0], start) || !in(seg[1], stop) {
		t.Errorf("segment %v ms; start request %v-%v, stop request %v-%v after the bridge", seg,
			start[0].Sub(bridged), start[1].Sub(bridged), stop[0].Sub(bridged), stop[1].Sub(bridged))
	}
}

func fmtSegs(segs [][2]int64) string { return fmt.Sprint(segs) }

// demoOnly records the demo pool in mode (with or without the caller notice); other pools have
// no recording module.
func demoOnly(t *testing.T, mode media.Mode, notice bool) func(models.Pool) media.Policy {
	return func(p models.Pool) media.Policy {
		if p.StartNumber == "4971121843140" {
			return testPolicy(t, mode, notice)
		}
		return media.Policy{}
	}
}

type apiCallList struct {
	Calls []callJSON `json:"calls"`
	Total int64      `json:"total"`
}

func TestLiveCallsThroughAPIAndStreams(t *testing.T) {
	testtool.Short(t)
	le := newLiveEnv(t, demoOnly(t, media.ModeManual, false))
	admin := le.admin()
	other := le.client().login(le.otherAdmin, le.otherPW)
	adminStream, otherStream := le.openStream(t, admin), le.openStream(t, other)
	platformStream := le.openStream(t, le.platform())
	empty := func(d string) bool { return strings.Contains(d, `data-testid="live-empty"`) }
	awaitEvent(t, adminStream, "the empty list on connect", empty)
	awaitEvent(t, otherStream, "the empty list on connect", empty)
	awaitEvent(t, platformStream, "the empty list on connect", empty)
	agentTok, otherTok, platformTok := le.token(le.demo.Agent), le.token(le.otherAdmin), le.token("admin")
	var list apiCallList

	callee := le.startCallee(t, 2)
	caller := le.startCaller(t, "49711218431440", "49711218431431", 7000, "")
	otherCaller := le.startCaller(t, "4930111222", "4930555001", 5000, "")

	var c, oc media.CallInfo
	for deadline := time.Now().Add(20 * time.Second); (c.ID == "" || oc.ID == "") && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, x := range le.eng.Calls() {
			if x.State != media.StateConnected {
				continue
			}
			if x.B == "49711218431431" {
				c = x
			} else {
				oc = x
			}
		}
	}
	if c.ID == "" || oc.ID == "" {
		t.Fatalf("calls not connected: %+v %+v", c, oc)
	}
	id, oid := le.callID(t, c.ID), le.callID(t, oc.ID)
	row, orow := fmt.Sprintf(`data-testid="live-row-%d"`, id), fmt.Sprintf(`data-testid="live-row-%d"`, oid)
	got := awaitEvent(t, adminStream, "the demo call connected", func(d string) bool {
		return strings.Contains(d, row+` data-state="connected"`)
	})
	le.sink.mu.Lock()
	t.Logf("appeared on the admin's stream %v after the sink saw it connected", got.at.Sub(le.sink.connected[c.ID]))
	le.sink.mu.Unlock()
	awaitEvent(t, otherStream, "the other customer's call", func(d string) bool { return strings.Contains(d, orow) })
	// The platform admin sees every customer's calls, without buttons.
	pl := awaitEvent(t, platformStream, "both calls", func(d string) bool { return strings.Contains(d, row) && strings.Contains(d, orow) })
	if strings.Contains(pl.data, `data-testid="live-start"`) {
		t.Error("the platform admin got recording buttons")
	}
	if st := le.api(otherTok, "GET", "/calls?state=active", nil, &list); st != 200 || len(list.Calls) != 1 || list.Calls[0].ID != oid {
		t.Errorf("active calls for the other customer: %d %+v", st, list)
	}

	if st := le.api(agentTok, "GET", "/calls?state=active", nil, &list); st != 200 || len(list.Calls) != 1 ||
		list.Calls[0].ID != id || list.Calls[0].C != "4915258XXX874" || list.Calls[0].State != "connected" {
		t.Fatalf("active calls for the agent: %d %+v", st, list)
	}
	path := "/calls/" + strconv.Itoa(int(id)) + "/recording/"
	var apiErr apiErrorBody
	check := func(tok, action string, status int, code, rec string) callJSON {
		t.Helper()
		var out callJSON
		apiErr = apiErrorBody{}
		var st int
		if status == 200 {
			st = le.api(tok, "POST", path+action, nil, &out)
		} else {
			st = le.api(tok, "POST", path+action, nil, &apiErr)
		}
		if st != status || apiErr.Error.Code != code || (status == 200 && out.RecordingState != rec) {
			t.Fatalf("%s: %d %q %q, want %d %q %q", action, st, apiErr.Error.Code, out.RecordingState, status, code, rec)
		}
		return out
	}
	sleepUntil(c.Bridged.Add(2 * time.Second))
	startWindow := [2]time.Time{time.Now()}
	check(agentTok, "start", 200, "", "recording")
	startWindow[1] = time.Now()
	check(agentTok, "start", 200, "", "recording") // a double click does no harm
	check(otherTok, "start", 404, "not_found", "")
	check(platformTok, "stop", 403, "forbidden", "")
	var oerr apiErrorBody
	if st := le.api(otherTok, "POST", "/calls/"+strconv.Itoa(int(oid))+"/recording/start", nil, &oerr); st != 409 || oerr.Error.Code != "recording_not_booked" {
		t.Errorf("start on a pool without the module: %d %q", st, oerr.Error.Code)
	}
	awaitEvent(t, adminStream, "recording", func(d string) bool { return strings.Contains(d, row+` data-state="connected" data-rec="recording"`) })
	sleepUntil(c.Bridged.Add(4 * time.Second))
	stopWindow := [2]time.Time{time.Now()}
	check(agentTok, "stop", 200, "", "stopped")
	stopWindow[1] = time.Now()
	check(agentTok, "stop", 200, "", "stopped")

	for _, p := range []*sipptest.Sipp{caller, otherCaller, callee} {
		if err := p.Wait(t, 30*time.Second); err != nil {
			t.Fatalf("sipp: %v", err)
		}
	}
	var final media.CallInfo
	for i := 0; i < 2; i++ {
		if x := le.sink.waitEnded(t); x.ID == c.ID {
			final = x
		}
	}
	gone := awaitEvent(t, adminStream, "the call gone", func(d string) bool { return !strings.Contains(d, row) })
	le.sink.mu.Lock()
	t.Logf("left the admin's stream %v after the sink saw it end", gone.at.Sub(le.sink.endedAt[c.ID]))
	le.sink.mu.Unlock()
	// The other customer's stream never carried the demo call.
	for drained := false; !drained; {
		select {
		case ev := <-otherStream:
			if strings.Contains(ev.data, row) || strings.Contains(ev.data, "49711218431440") {
				t.Fatal("the other customer's stream showed the demo call")
			}
		case <-time.After(300 * time.Millisecond):
			drained = true
		}
	}

	var detail callJSON
	if st := le.api(le.token(le.demo.Admin), "GET", "/calls/"+strconv.Itoa(int(id)), nil, &detail); st != 200 {
		t.Fatalf("detail: %d", st)
	}
	t.Logf("call %d: duration %d ms, recorded %d ms, segments %s", id, detail.DurationMS, detail.RecordedMS, fmtSegs(detail.Segments))
	if len(detail.Segments) != 1 || detail.Recording == nil || detail.Recording.Status != models.RecordingComplete || detail.Outcome != "completed" {
		t.Fatalf("detail: %+v", detail)
	}
	checkSegment(t, c.Bridged, detail.Segments[0], startWindow, stopWindow)
	if r := detail.RecordedMS - (detail.Segments[0][1] - detail.Segments[0][0]); r < -2 || r > 2 { // ms rounding of three values
		t.Errorf("recorded %d ms, segment %v", detail.RecordedMS, detail.Segments[0])
	}
	starts, stops := 0, 0
	for _, ev := range detail.Events {
		switch ev.Kind {
		case media.EventRecordingStarted:
			starts++
			if ev.By != le.demo.Agent {
				t.Errorf("started by %q", ev.By)
			}
		case media.EventRecordingStopped:
			stops++
		}
	}
	if starts != 1 || stops != 1 {
		t.Errorf("consent trail has %d starts and %d stops, want 1 and 1", starts, stops)
	}
	le.checkRecording(t, final, detail.Segments)
	var audits int
	if err := le.store.SQL().QueryRow(`SELECT count(*) FROM audit_events WHERE kind IN ('recording.started','recording.stopped') AND username = ? AND object = ?`,
		le.demo.Agent, "call "+strconv.Itoa(int(id))).Scan(&audits); err != nil || audits != 2 {
		t.Errorf("audit events: %d (%v), want 2 (one start, one stop; repeats change nothing)", audits, err)
	}
}

// TestLiveCallsInBrowser is the walk-through: an agent's and an admin's window both see
// a demo call appear by SSE; the agent records its middle (Start at ~3 s, Stop at ~6 s of a
// ~10 s call); the file spans the whole call, silent outside the recorded stretch; the admin
// finds both durations in the call log.
func TestLiveCallsInBrowser(t *testing.T) {
	testtool.Short(t)
	le := newLiveEnv(t, demoOnly(t, media.ModeManual, false))
	// Two browsers, as two people at two desks (a second browser context of one Chromium
	// cannot open a tab in headless mode here).
	agentCtx, adminCtx := browsertest.New(t), browsertest.New(t)
	run := func(ctx context.Context, what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run(agentCtx, "agent opens Live calls", browsertest.Login(le.srv.URL, le.demo.Agent, le.demo.AgentPassword),
		chromedp.Navigate(le.srv.URL+"/calls/live"), chromedp.WaitVisible(`[data-testid="live-empty"]`))
	run(adminCtx, "admin opens Live calls", browsertest.Login(le.srv.URL, le.demo.Admin, le.demo.AdminPassword),
		chromedp.Navigate(le.srv.URL+"/calls/live"), chromedp.WaitVisible(`[data-testid="live-empty"]`))
	for deadline := time.Now().Add(10 * time.Second); le.web.hub.subscribers() < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the pages did not connect their event streams")
		}
	}

	callee := le.startCallee(t, 1)
	caller := le.startCaller(t, "49711218431440", "49711218431431", 10000, "")
	c := le.liveCall(t)
	id := le.callID(t, c.ID)
	row := fmt.Sprintf(`tr[data-testid="live-row-%d"]`, id)
	run(agentCtx, "the call appears for the agent", chromedp.WaitVisible(row+`[data-state="connected"]`))
	le.sink.mu.Lock()
	t.Logf("visible in the agent's browser %v after the sink saw the call connected", time.Since(le.sink.connected[c.ID]))
	le.sink.mu.Unlock()
	run(adminCtx, "the call appears for the admin", chromedp.WaitVisible(row+`[data-state="connected"]`))
	var agentC, adminC, recText string
	run(agentCtx, "agent reads the row", chromedp.Text(row+` [data-testid="live-c"]`, &agentC))
	run(adminCtx, "admin reads the row", chromedp.Text(row+` [data-testid="live-c"]`, &adminC))
	if strings.TrimSpace(agentC) != "4915258XXX874" || strings.TrimSpace(adminC) != "4915258878874" {
		t.Errorf("destination: agent sees %q, admin %q", agentC, adminC)
	}

	sleepUntil(c.Bridged.Add(3 * time.Second))
	startWindow := [2]time.Time{time.Now()}
	run(agentCtx, "agent starts recording", chromedp.Click(row+` [data-testid="live-start"]`, chromedp.NodeEnabled),
		chromedp.WaitVisible(row+`[data-rec="recording"]`))
	startWindow[1] = time.Now()
	run(adminCtx, "the admin sees it recording", chromedp.WaitVisible(row+`[data-rec="recording"]`))
	sleepUntil(c.Bridged.Add(6 * time.Second))
	stopWindow := [2]time.Time{time.Now()}
	run(agentCtx, "agent stops recording", chromedp.Click(row+` [data-testid="live-stop"]`, chromedp.NodeEnabled),
		chromedp.WaitVisible(row+`[data-rec="stopped"]`))
	stopWindow[1] = time.Now()
	run(agentCtx, "agent reads the recorded time", chromedp.Text(row+` [data-testid="live-recorded"]`, &recText))
	t.Logf("recorded time shown after stop: %s", recText)

	// Watch for the row to leave while the call is still on, to measure when it does.
	gone := make(chan error, 1)
	var goneAt time.Time
	go func() {
		err := chromedp.Run(agentCtx, chromedp.WaitVisible(`[data-testid="live-empty"]`))
		goneAt = time.Now()
		gone <- err
	}()
	if err := caller.Wait(t, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := callee.Wait(t, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	final := le.sink.waitEnded(t)
	select {
	case err := <-gone:
		if err != nil {
			t.Fatalf("the call leaves the agent's page: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the call never left the agent's page")
	}
	le.sink.mu.Lock()
	t.Logf("gone from the agent's browser %v after the sink saw the call end", goneAt.Sub(le.sink.endedAt[c.ID]))
	le.sink.mu.Unlock()

	call, err := le.store.CallWithTrail(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, id)
	if err != nil || call.Recording == nil {
		t.Fatalf("saved call: %+v %v", call, err)
	}
	segs := call.Recording.SegmentsMS()
	t.Logf("call %v connected, recorded %v, segments %v", time.Duration(call.DurationMS)*time.Millisecond,
		time.Duration(call.Recording.RecordedMS)*time.Millisecond, segs)
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	checkSegment(t, c.Bridged, segs[0], startWindow, stopWindow)
	le.checkRecording(t, final, segs)

	var durations string
	run(adminCtx, "the admin reads the call log", chromedp.Navigate(le.srv.URL+"/calls"),
		chromedp.Text(fmt.Sprintf(`[data-testid="call-row-%d"] [data-testid="call-durations"]`, id), &durations))
	want := templates.Duration(call.DurationMS) + " Gespräch, " + templates.Duration(call.Recording.RecordedMS) + " aufgezeichnet"
	t.Logf("call log: %q", durations)
	if strings.TrimSpace(durations) != want || !strings.HasPrefix(want, "0:") {
		t.Errorf("call log shows %q, want %q", durations, want)
	}
}

// TestObjectedCallCannotBeRecorded: the caller presses * during the notice; the Live calls row
// shows the objection with both buttons disabled, and the API refuses with 409.
func TestObjectedCallCannotBeRecorded(t *testing.T) {
	testtool.Short(t)
	le := newLiveEnv(t, demoOnly(t, media.ModeManual, true))
	ctx := browsertest.New(t)
	if err := chromedp.Run(ctx, browsertest.Login(le.srv.URL, le.demo.Agent, le.demo.AgentPassword),
		chromedp.Navigate(le.srv.URL+"/calls/live"), chromedp.WaitVisible(`[data-testid="live-empty"]`)); err != nil {
		t.Fatal(err)
	}
	callee := le.startCallee(t, 1)
	star := `<pause milliseconds="200"/><nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_star.pcap"/></action></nop>`
	caller := le.startCaller(t, "49711218431440", "49711218431431", 3000, star)
	c := le.liveCall(t)
	id := le.callID(t, c.ID)
	row := fmt.Sprintf(`tr[data-testid="live-row-%d"]`, id)
	var startDisabled, stopDisabled bool
	var reason, v1, v2 string
	if err := chromedp.Run(ctx, chromedp.WaitVisible(row+`[data-rec="objected"]`),
		chromedp.Text(row+` [data-testid="live-reason"]`, &reason),
		chromedp.AttributeValue(row+` [data-testid="live-start"]`, "disabled", &v1, &startDisabled),
		chromedp.AttributeValue(row+` [data-testid="live-stop"]`, "disabled", &v2, &stopDisabled)); err != nil {
		t.Fatal(err)
	}
	if !startDisabled || !stopDisabled || !strings.Contains(reason, "widersprochen") {
		t.Errorf("objected row: start disabled %v, stop disabled %v, reason %q", startDisabled, stopDisabled, reason)
	}
	var apiErr apiErrorBody
	tok := le.token(le.demo.Agent)
	for _, action := range []string{"start", "stop"} {
		apiErr = apiErrorBody{}
		if st := le.api(tok, "POST", "/calls/"+strconv.Itoa(int(id))+"/recording/"+action, nil, &apiErr); st != 409 || apiErr.Error.Code != "caller_objected" {
			t.Errorf("%s on an objected call: %d %q", action, st, apiErr.Error.Code)
		}
	}
	if err := caller.Wait(t, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	_ = callee.Wait(t, 30*time.Second)
	final := le.sink.waitEnded(t)
	if final.Outcome != media.OutcomeObjected || final.Recording != nil {
		t.Errorf("outcome %q, recording %+v", final.Outcome, final.Recording)
	}
}
