package main

// What the cluster test waits for: a database, tokens, Kamailio's dispatcher, stored recordings.

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/kamailiotest"
	"callrec/internal/pgtest"
)

// clusterDB is the database the nodes share: a PostgreSQL database of its own.
func clusterDB(t *testing.T) string { return pgtest.DB(t) }

// tokenFor makes an API token for user through the CLI, on the shared database.
func tokenFor(t *testing.T, db, user string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"apikey", "create", "--user", user, "--db", db}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}

// waitDispatcher waits until Kamailio's dispatcher has the node at addr active (or inactive).
func waitDispatcher(t *testing.T, p *kamailiotest.Proxy, addr string, active bool, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		if d, ok := p.Node(addr); ok && d.Active() == active {
			return
		}
		if time.Now().After(deadline) {
			ds, _ := p.Destinations()
			t.Fatalf("dispatcher: %s active=%v not reached within %s: %+v", addr, active, within, ds)
		}
	}
}

// waitStored waits until node's n calls have ended completed with their recordings stored, and
// checks each file: a stereo WAV as long as its call was connected (within 200 ms) with the
// caller's tone left and the callee's right.
func waitStored(t *testing.T, p *product, tok clusterTokens, node string, n int) {
	t.Helper()
	type recJSON struct {
		ID      uint   `json:"id"`
		Storage string `json:"storage"`
		Status  string `json:"status"`
		call    time.Duration
	}
	var recs []recJSON
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		recs = recs[:0]
		for _, c := range byNode(allCalls(p, tok))[node] {
			if c.Outcome != "completed" || c.Recording == nil {
				continue
			}
			var r recJSON
			p.api(tok.cust, "GET", "/recordings/"+strconv.Itoa(int(c.Recording.FileID)), nil, &r)
			if time.Now().After(deadline) {
				t.Logf("call %d: recording %+v", c.ID, r)
			}
			var d struct {
				DurationMS int64 `json:"duration_ms"`
			}
			p.api(tok.cust, "GET", "/calls/"+strconv.Itoa(int(c.ID)), nil, &d)
			r.call = time.Duration(d.DurationMS) * time.Millisecond
			if r.Storage == "stored" {
				recs = append(recs, r)
			}
		}
		if len(recs) == n {
			break
		}
		if time.Now().After(deadline) {
			var all struct {
				Recordings []map[string]any `json:"recordings"`
			}
			p.api(tok.cust, "GET", "/recordings?per_page=200", nil, &all)
			for _, r := range all.Recordings {
				t.Logf("recording %v", r)
			}
			for _, c := range allCalls(p, tok) {
				t.Logf("call %d %s %s %s rec %+v", c.ID, c.EngineID, c.Node, c.Outcome, c.Recording)
			}
			t.Fatalf("%s: %d of %d calls completed with their recordings stored", node, len(recs), n)
		}
	}
	dir := t.TempDir()
	for _, r := range recs {
		b, st := p.get(tok.cust, "/api/v1/recordings/"+strconv.Itoa(int(r.ID))+"/audio", "")
		if st != 200 {
			t.Fatalf("recording %d: %d", r.ID, st)
		}
		f := filepath.Join(dir, strconv.Itoa(int(r.ID))+".wav")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ch, rate, pcm := wav16(t, f)
		d := time.Duration(len(pcm)/ch) * time.Second / time.Duration(rate)
		if ch != 2 || r.call < 5*time.Second || d < r.call-200*time.Millisecond || d > r.call+200*time.Millisecond || rms(pcm, 2, 0) < 300 || rms(pcm, 2, 1) < 300 {
			t.Errorf("%s recording %d: %d channels, %s for a call connected %s, rms %.0f / %.0f", node, r.ID, ch, d, r.call, rms(pcm, 2, 0), rms(pcm, 2, 1))
		}
	}
}
