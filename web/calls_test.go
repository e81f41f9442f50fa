package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/calls"
	"callrec/models"
	"callrec/templates"
)

// saveDemoCall stores an ended call of the demo pool as the engine would report it: 5 minutes
// connected, recorded in its last minute (the seed document's example).
func saveDemoCall(t *testing.T, e *env, engineID string, arrival time.Time) models.Call {
	t.Helper()
	p := e.demoPool()
	bridged := arrival.Add(4 * time.Second)
	ended := bridged.Add(5 * time.Minute)
	r := models.CallRecord{EngineID: engineID, CustomerID: p.CustomerID, PoolID: p.ID, SubscriberID: "337826", StartNumber: p.StartNumber,
		A: "49711218431440", B: "49711218431431", C: "4915258878874", Arrival: arrival, Answered: bridged, Bridged: bridged, Ended: ended,
		State: "ended", RecState: "stopped", Mode: "manual", Outcome: calls.OutcomeCompleted, Recorded: time.Minute,
		Events: []models.CallEventRecord{
			{At: arrival.Add(time.Second), Kind: "notice_played", By: "system"},
			{At: bridged.Add(4 * time.Minute), Kind: "recording_started", By: "demo-agent"},
		},
		Segments: []calls.Segment{{Start: 4 * time.Minute, End: 5 * time.Minute}},
		Recording: &models.RecordingRecord{Path: "call_recording/337826/4971121843140/rec_x_" + engineID + ".wav", Channels: 1,
			Size: 4800044, Duration: 5 * time.Minute, Recorded: time.Minute, Final: true},
	}
	c, err := e.store.SaveCall(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCallLogShowsBothDurationsAndMasks(t *testing.T) {
	e := newEnv(t)
	arrival := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	call := saveDemoCall(t, e, "log1", arrival)
	// The other customer's call must never show.
	op := e.otherPool
	if _, err := e.store.SaveCall(context.Background(), models.CallRecord{EngineID: "other1", CustomerID: op.CustomerID, PoolID: op.ID,
		A: "4930111", B: "4930555000", C: "4930555999", Arrival: arrival, State: "ended", Outcome: calls.OutcomeBusy, Ended: arrival.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}

	admin := e.admin()
	st, body := admin.get("/calls")
	if st != http.StatusOK {
		t.Fatalf("/calls: %d", st)
	}
	row := "call-row-" + strconv.Itoa(int(call.ID))
	for _, want := range []string{row, "5:00 Gespräch, 1:00 aufgezeichnet", "4915258878874", "20.11.2026 10:30", // Europe/Berlin
		`href="/recordings/`, "Aufzeichnung gestartet", "(demo-agent)", "Demo-Pool Stuttgart"} {
		if !strings.Contains(body, want) {
			t.Errorf("admin's call log lacks %q", want)
		}
	}
	if strings.Contains(body, "4930555999") || strings.Contains(body, "4930111") {
		t.Error("admin's call log shows the other customer's call")
	}

	full, err := e.store.CallWithTrail(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, call.ID)
	if err != nil || full.Recording == nil || full.Recording.FileID == 0 {
		t.Fatalf("saved recording: %+v %v", full.Recording, err)
	}
	if link := `href="/recordings/` + strconv.Itoa(int(full.Recording.FileID)) + `"`; !strings.Contains(body, link) {
		t.Errorf("no link %s to the recording's file", link)
	}

	agent := e.agent()
	_, body = agent.get("/calls")
	if !strings.Contains(body, "4915258XXX874") || strings.Contains(body, "4915258878874") {
		t.Error("the agent (no permission to open recordings) must see the destination masked")
	}
	if strings.Contains(body, `data-testid="call-recording"`) || !strings.Contains(body, `data-testid="call-has-file"`) {
		t.Error("the agent may not open recordings: no link, only the note that a file exists")
	}
	if _, body = agent.get("/calls?number=878874"); strings.Contains(body, row) {
		t.Error("the agent found the call by the masked digits")
	}
	if _, body = admin.get("/calls?number=878874"); !strings.Contains(body, row) {
		t.Error("the admin did not find the call by its destination")
	}
	for q, want := range map[string]bool{
		"?outcome=completed":                      true,
		"?outcome=busy":                           false,
		"?from=2026-11-20&to=2026-11-20":          true,
		"?from=2026-11-21":                        false,
		"?pool=" + strconv.Itoa(int(op.ID)):       false,
		"?pool=" + strconv.Itoa(int(call.PoolID)): true,
	} {
		if _, body := admin.get("/calls" + q); strings.Contains(body, row) != want {
			t.Errorf("/calls%s: row shown %v, want %v", q, !want, want)
		}
	}
	if st, body := admin.get("/calls?from=yesterday"); st != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="error-from"`) {
		t.Errorf("bad date: %d", st)
	}
}

func TestCallLogPaginates(t *testing.T) {
	e := newEnv(t)
	base := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < models.CallLogPerPage+3; i++ {
		saveDemoCall(t, e, "p"+strconv.Itoa(i), base.Add(time.Duration(i)*time.Minute))
	}
	admin := e.admin()
	_, body := admin.get("/calls")
	if n := strings.Count(body, `data-testid="call-row-`); n != models.CallLogPerPage {
		t.Fatalf("page 1 has %d rows", n)
	}
	if !strings.Contains(body, `data-testid="calls-next"`) || strings.Contains(body, `data-testid="calls-prev"`) {
		t.Error("page 1 links")
	}
	_, body = admin.get("/calls?page=2")
	if n := strings.Count(body, `data-testid="call-row-`); n != 3 || !strings.Contains(body, `data-testid="calls-prev"`) {
		t.Fatalf("page 2 has %d rows", n)
	}
}

func TestCallsAPIWithoutEngine(t *testing.T) {
	e := newEnv(t)
	call := saveDemoCall(t, e, "api1", time.Now().Add(-time.Hour))
	id := strconv.Itoa(int(call.ID))
	adminTok, agentTok := e.token(e.demo.Admin), e.token(e.demo.Agent)
	otherTok, platformTok := e.token(e.otherAdmin), e.token("admin")

	var list struct {
		Calls []callJSON `json:"calls"`
		Total int64      `json:"total"`
	}
	if st := e.api(adminTok, "GET", "/calls?state=ended", nil, &list); st != 200 || list.Total != 1 || list.Calls[0].ID != call.ID {
		t.Fatalf("list: %d %+v", st, list)
	}
	if list.Calls[0].DurationMS != 300000 || list.Calls[0].RecordedMS != 60000 || list.Calls[0].C != "4915258878874" {
		t.Errorf("admin's row: %+v", list.Calls[0])
	}
	if st := e.api(agentTok, "GET", "/calls", nil, &list); st != 200 || list.Calls[0].C != "4915258XXX874" {
		t.Errorf("agent's row: %d %+v", st, list.Calls)
	}
	if st := e.api(otherTok, "GET", "/calls", nil, &list); st != 200 || list.Total != 0 {
		t.Errorf("other customer's list: %d %+v", st, list)
	}
	var one callJSON
	if st := e.api(adminTok, "GET", "/calls/"+id, nil, &one); st != 200 || len(one.Events) != 2 || len(one.Segments) != 1 ||
		one.Segments[0] != [2]int64{240000, 300000} || one.Recording == nil || one.Recording.Status != models.RecordingComplete {
		t.Fatalf("detail: %d %+v", st, one)
	}
	var apiErr apiErrorBody
	for _, tc := range []struct {
		tok, method, path string
		status            int
		code              string
	}{
		{otherTok, "GET", "/calls/" + id, 404, "not_found"},
		{otherTok, "POST", "/calls/" + id + "/recording/start", 404, "not_found"},
		{platformTok, "POST", "/calls/" + id + "/recording/start", 403, "forbidden"},
		{agentTok, "POST", "/calls/" + id + "/recording/stop", 503, "engine_not_running"},
		{agentTok, "GET", "/calls?state=active", 503, "engine_not_running"},
		{agentTok, "GET", "/calls?state=nope", 422, "invalid_state"},
		{agentTok, "GET", "/calls?from=soon", 422, "invalid_from"},
	} {
		apiErr = apiErrorBody{}
		if st := e.api(tc.tok, tc.method, tc.path, nil, &apiErr); st != tc.status || apiErr.Error.Code != tc.code {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, st, apiErr.Error.Code, tc.status, tc.code)
		}
	}
	// Without an engine the page says so instead of showing an empty list.
	if st, body := e.agent().get("/calls/live"); st != 200 || !strings.Contains(body, `data-testid="live-engine-down"`) {
		t.Errorf("live page without engine: %d", st)
	}
}

func TestLiveNavForRoles(t *testing.T) {
	e := newEnv(t)
	for name, c := range map[string]*client{"agent": e.agent(), "admin": e.admin(), "platform": e.platform()} {
		_, body := c.get("/account")
		if strings.Count(body, `data-testid="nav-live"`) != 1 || strings.Count(body, `data-testid="nav-calls"`) != 1 {
			t.Errorf("%s does not have the live and calls navigation exactly once", name)
		}
	}
}

func TestDurationFormat(t *testing.T) {
	for ms, want := range map[int64]string{0: "0:00", 499: "0:00", 500: "0:01", 2979: "0:03", 60000: "1:00", 300000: "5:00",
		3599499: "59:59", 3599999: "1:00:00", 3723000: "1:02:03", -5: "0:00"} {
		if got := templates.Duration(ms); got != want {
			t.Errorf("Duration(%d) = %q, want %q", ms, got, want)
		}
	}
}

func TestSSEEventFraming(t *testing.T) {
	got := string(sseEvent("calls", []byte("<tr>\n<td>a</td>\r\n</tr>")))
	want := "event: calls\ndata: <tr>\ndata: <td>a</td>\ndata: </tr>\n\n"
	if got != want {
		t.Fatalf("got %q", got)
	}
}
