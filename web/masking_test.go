package web

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/sipptest"
	"callrec/internal/testtool"
	"callrec/models"
)

// TestMaskedUserNeverSeesTheDestination: an agent without the recordings permission must not
// learn the destination a pool forwards to, not even from a recording's name. A real call (sipp
// through the engine) is recorded into a file named after the call, destination included. While
// it runs and after it ended, curl fetches, as that agent (session and API token), every GET
// route of the route table with the ids of the real pool, call and recording, the live stream,
// and a ZIP of the recording: no answer holds the destination's digits, and the masked form
// appears where the destination is shown (pools, live calls, the call log, the calls API with
// its recording path). The customer admin, for contrast, gets the path in full.
func TestMaskedUserNeverSeesTheDestination(t *testing.T) {
	testtool.Short(t)
	le := newLiveEnv(t, models.ModeAutomatic, false)
	const dest, masked = "4915258878874", "4915258XXX874"
	agent := le.curl().login(le.demo.Agent, le.demo.AgentPassword)
	agentTok := le.token(le.demo.Agent)
	seenMasked := map[string]bool{}
	check := func(what string, a curlAnswer) {
		t.Helper()
		if strings.Contains(a.Body, dest) || strings.Contains(a.Header.Get("Content-Disposition"), dest) {
			t.Errorf("%s (%d) shows the destination in full", what, a.Status)
		}
		if strings.Contains(a.Body, masked) {
			seenMasked[what] = true
		}
	}
	callee := le.startCallee(t, 1)
	caller := le.startCaller(t, "49711218431440", "49711218431431", 4000, "")
	live := le.liveCall(t)
	id := le.callID(t, live.ID)
	pool := le.demoPool()
	check("live page", agent.do("/calls/live"))
	check("live stream", agent.do("/calls/live/events", "-N", "--max-time", "2"))
	check("active calls API", agent.do("/api/v1/calls?state=active", bearer(agentTok)...))
	check("live call API", agent.do("/api/v1/calls/"+strconv.Itoa(int(id)), bearer(agentTok)...))
	for _, p := range []*sipptest.Sipp{caller, callee} {
		if err := p.Wait(t, 30*time.Second); err != nil {
			t.Fatalf("sipp: %v", err)
		}
	}
	ended := le.waitEnded(t)
	if ended.Recording == nil || !strings.Contains(ended.Recording.Path, dest) {
		t.Fatalf("the recording's name should hold the destination: %+v", ended.Recording)
	}
	full, err := le.store.CallWithTrail(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, id)
	if err != nil || full.Recording == nil {
		t.Fatalf("saved call: %+v %v", full.Recording, err)
	}
	fileID := full.Recording.FileID

	// Every GET route of the table, with the real ids.
	ids := []string{strconv.Itoa(int(pool.ID)), strconv.Itoa(int(id)), strconv.Itoa(int(fileID))}
	param := regexp.MustCompile(`:[a-z]+|\*$`)
	n := 0
	for _, f := range le.web.routeTable() {
		for _, r := range f.routes {
			// The API's description is public and the same for everyone (its examples use the
			// product document's numbers).
			if r.method != http.MethodGet || strings.HasPrefix(r.path, "/static/") || r.path == "/api/v1/*" || r.path == "/api/v1/openapi.json" {
				continue
			}
			for _, idv := range ids {
				p := param.ReplaceAllStringFunc(r.path, func(s string) string {
					switch s {
					case ":slot":
						return "caller_notice"
					case ":cid":
						return strconv.Itoa(int(pool.CustomerID))
					case "*":
						return "337826/4971121843140"
					}
					return idv
				})
				args := []string{"--max-time", "2"}
				if strings.HasPrefix(p, "/api/") {
					args = append(args, bearer(agentTok)...)
				}
				check(r.path+" as "+p, agent.do(p, args...))
				n++
			}
		}
	}
	check("calls API", agent.do("/api/v1/calls", bearer(agentTok)...))
	check("call API", agent.do("/api/v1/calls/"+strconv.Itoa(int(id)), bearer(agentTok)...))
	check("call log", agent.do("/calls"))
	check("pools API", agent.do("/api/v1/pools", bearer(agentTok)...))
	check("pools", agent.do("/pools"))
	check("pool", agent.do("/pools/"+strconv.Itoa(int(pool.ID))))
	zip := agent.do("/recordings/bulk", "--data-urlencode", "_csrf="+agent.csrf, "--data-urlencode", "action=zip",
		"--data-urlencode", "ids="+strconv.Itoa(int(fileID)), "--data-urlencode", "back=/files")
	check("ZIP of the recording", zip)
	if zip.Status != http.StatusNotFound {
		t.Errorf("agent's ZIP: %d, want 404", zip.Status)
	}
	for _, what := range []string{"live page", "active calls API", "calls API", "call API", "call log", "pools API", "pools", "pool"} {
		if !seenMasked[what] {
			t.Errorf("%s: the masked destination %s is not shown", what, masked)
		}
	}
	var call callJSON
	if st := le.api(agentTok, "GET", "/calls/"+strconv.Itoa(int(id)), nil, &call); st != 200 || call.Recording == nil ||
		!strings.Contains(call.Recording.Path, masked) {
		t.Errorf("agent's recording path: %d %+v", st, call.Recording)
	}
	if st := le.api(le.token(le.demo.Admin), "GET", "/calls/"+strconv.Itoa(int(id)), nil, &call); st != 200 || call.Recording == nil ||
		!strings.Contains(call.Recording.Path, dest) {
		t.Errorf("admin's recording path: %d %+v", st, call.Recording)
	}
	t.Logf("%d routes fetched as the agent", n)
}
