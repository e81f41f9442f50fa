package web

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"callrec/calls"
	"callrec/internal/browsertest"
	"callrec/internal/sipptest"
	"callrec/internal/testtool"
	"callrec/media"
	"callrec/models"
	"callrec/templates"
)

type apiCallList struct {
	Calls []callJSON `json:"calls"`
	Total int64      `json:"total"`
}

func TestLiveCallsThroughAPIAndStreams(t *testing.T) {
	testtool.Short(t)
	le := newLiveEnv(t, models.ModeManual, false)
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
	t.Logf("appeared on the admin's stream %v after it was saved connected", got.at.Sub(le.sink.connected[c.ID]))
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
		if x := le.waitEnded(t); x.ID == c.ID {
			final = x
		}
	}
	gone := awaitEvent(t, adminStream, "the call gone", func(d string) bool { return !strings.Contains(d, row) })
	le.sink.mu.Lock()
	t.Logf("left the admin's stream %v after its end was saved", gone.at.Sub(le.sink.endedAt[c.ID]))
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
	starts, stops, whispers := 0, 0, 0
	for _, ev := range detail.Events {
		switch calls.EventKind(ev.Kind) {
		case calls.EventWhisperPlayed: // the uploaded whisper, chosen by the store's announcements
			whispers++
		case calls.EventRecordingStarted:
			starts++
			if ev.By != le.demo.Agent {
				t.Errorf("started by %q", ev.By)
			}
		case calls.EventRecordingStopped:
			stops++
		}
	}
	if starts != 1 || stops != 1 || whispers != 1 {
		t.Errorf("consent trail has %d starts, %d stops and %d whispers, want 1, 1 and 1", starts, stops, whispers)
	}
	le.checkRecording(t, final, detail.Segments)
	var audits int
	if err := le.store.SQL().QueryRow(`SELECT count(*) FROM audit_events WHERE kind IN ('recording.started','recording.stopped') AND username = $1 AND object = $2`, // $n: both SQLite and PostgreSQL take it
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
	le := newLiveEnv(t, models.ModeManual, false)
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
	t.Logf("visible in the agent's browser %v after it was saved connected", time.Since(le.sink.connected[c.ID]))
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
	// One toggle: it now says Stop, beside the red live light, and its recorded time runs.
	var t1, t2 string
	run(agentCtx, "the toggle runs the recorded time", chromedp.WaitVisible(row+` [data-testid="live-indicator"]`),
		chromedp.WaitNotPresent(row+` [data-testid="live-start"]`),
		chromedp.Text(row+` [data-testid="live-toggle-time"]`, &t1), chromedp.Sleep(2100*time.Millisecond),
		chromedp.Text(row+` [data-testid="live-toggle-time"]`, &t2))
	if t1 == t2 {
		t.Errorf("the toggle's recorded time stands still at %q", t1)
	}
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
	final := le.waitEnded(t)
	select {
	case err := <-gone:
		if err != nil {
			t.Fatalf("the call leaves the agent's page: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the call never left the agent's page")
	}
	le.sink.mu.Lock()
	t.Logf("gone from the agent's browser %v after its end was saved", goneAt.Sub(le.sink.endedAt[c.ID]))
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
	le := newLiveEnv(t, models.ModeManual, true)
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
	var startDisabled bool
	var stops int
	var reason, v1 string
	if err := chromedp.Run(ctx, chromedp.WaitVisible(row+`[data-rec="objected"]`),
		chromedp.Text(row+` [data-testid="live-reason"]`, &reason),
		chromedp.AttributeValue(row+` [data-testid="live-start"]`, "disabled", &v1, &startDisabled),
		chromedp.Evaluate(`document.querySelectorAll('`+row+` [data-testid="live-stop"]').length`, &stops)); err != nil {
		t.Fatal(err)
	}
	if !startDisabled || stops != 0 || !strings.Contains(reason, "widersprochen") {
		t.Errorf("objected row: the toggle disabled %v, stop buttons %d, reason %q", startDisabled, stops, reason)
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
	final := le.waitEnded(t)
	if final.Outcome != media.OutcomeObjected || final.Recording != nil {
		t.Errorf("outcome %q, recording %+v", final.Outcome, final.Recording)
	}
}
