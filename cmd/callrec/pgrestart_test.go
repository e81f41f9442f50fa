package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"callrec/internal/pgtest"
	"callrec/internal/sipptest"
	"callrec/internal/testtool"
)

// TestPostgresRestartDuringCalls restarts PostgreSQL while recorded sipp calls are connected:
// the calls go on, a call that arrives while the database is away is routed and recorded too,
// the API answers 503 database_unavailable meanwhile, and once the database is back every call
// is stored as completed with its recording.
func TestPostgresRestartDuringCalls(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	cluster := pgtest.New(t)
	p := startProduct(t, "--db", cluster.DB(t))
	tok := p.token("demo-admin")
	p.bookDemoPool(tok)

	const n = 10
	callee := sipptest.Start(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"},
		"-p", strconv.Itoa(p.trunkPort), "-m", strconv.Itoa(n+1))
	time.Sleep(200 * time.Millisecond)
	caller := sipptest.Start(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "20000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(sipptest.FreePort(t)), "-s", "49711218431431", "-m", strconv.Itoa(n), "-l", strconv.Itoa(n), "-r", "20", p.sip)

	dir := filepath.Join(p.data, "call_recording", "337826", "4971121843140")
	recording := func() int {
		files, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
		k := 0
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && st.Size() > 44+8000 {
				k++
			}
		}
		return k
	}
	for deadline := time.Now().Add(60 * time.Second); recording() < n; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls recording after 60 s\n%s", recording(), n, p.out)
		}
	}

	cluster.Stop()
	var apiErr struct {
		Error struct{ Code string }
	}
	if st := p.api(tok, "GET", "/recordings", nil, &apiErr); st != http.StatusServiceUnavailable || apiErr.Error.Code != "database_unavailable" {
		t.Fatalf("API while the database is away: %d %+v", st, apiErr)
	}
	// A call arriving now: its number was routed before, so it is routed the same way (and held
	// past the callee's whisper, about 6 s, so that it is bridged and recorded).
	late := sipptest.Start(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "10000", "FROM": "49711218431499"},
		"-p", strconv.Itoa(sipptest.FreePort(t)), "-s", "49711218431431", "-m", "1", p.sip)
	if err := late.Wait(t, 60*time.Second); err != nil {
		t.Fatalf("call during the outage: %v\n%s", err, p.out)
	}
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	if err := caller.Wait(t, 90*time.Second); err != nil {
		t.Fatalf("callers: %v\n%s", err, p.out)
	}
	if err := callee.Wait(t, 30*time.Second); err != nil {
		t.Fatalf("callee: %v", err)
	}

	// Everything is stored once the sink has caught up.
	var calls, done int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		db := openSQL(t, p.db)
		err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE c.outcome = 'completed' AND c.state = 'ended' AND r.status = 'complete'
			AND r.duration_ms > 3000 AND f.size = r.size) FROM calls c JOIN recordings r ON r.call_id = c.id JOIN files f ON f.id = r.file_id`).Scan(&calls, &done)
		db.Close()
		if err == nil && done == n+1 {
			break
		}
		if time.Now().After(deadline) {
			db := openSQL(t, p.db)
			rows, _ := db.Query(`SELECT c.a, c.state, c.outcome, COALESCE(r.status, ''), COALESCE(r.duration_ms, 0) FROM calls c LEFT JOIN recordings r ON r.call_id = c.id`)
			for rows != nil && rows.Next() {
				var a, st, out, rs string
				var d int64
				rows.Scan(&a, &st, &out, &rs, &d)
				t.Logf("call from %s: %s %s, recording %s %d ms", a, st, out, rs, d)
			}
			db.Close()
			t.Fatalf("%d calls stored, %d completed with their recording (%v), want %d\n%s", calls, done, err, n+1, p.out)
		}
	}
	var list struct {
		Recordings []struct{ ID uint } `json:"recordings"`
	}
	if st := p.api(tok, "GET", "/recordings", nil, &list); st != 200 || len(list.Recordings) != n+1 {
		t.Fatalf("recordings after the restart: %d, %d listed", st, len(list.Recordings))
	}
}
