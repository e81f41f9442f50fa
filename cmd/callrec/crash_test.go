package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/sipptest"
	"callrec/internal/storetest"
	"callrec/internal/testtool"
)

// TestServeHelperProcess is `callrec serve` in a child process for TestKill9WithCallsInFlight
// (a test cannot kill -9 itself); it does nothing in a normal run.
func TestServeHelperProcess(t *testing.T) {
	if os.Getenv("CALLREC_SERVE_HELPER") != "1" {
		t.Skip("helper process only")
	}
	args := strings.Split(os.Getenv("CALLREC_SERVE_ARGS"), "\t")
	ctx, stop := signals(context.Background()) // as main: SIGTERM drains
	defer stop()
	if err := run(ctx, args, os.Getenv, os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// TestKill9WithCallsInFlight: the product is killed with SIGKILL while many recorded calls are
// connected. The next start repairs every file's header: all files play (sox reads them),
// each holds the audio received up to the crash (its length is bridge..kill within 1 s, with
// both voices to the end), and every call and recording is marked interrupted.
func TestKill9WithCallsInFlight(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	sox := testtool.Need(t, "sox", "sox")
	const n = 100 // calls in flight at the crash
	data := t.TempDir()
	dsn := storetest.DSN(t, data)
	trunk := sipptest.FreePort(t)
	httpAddr := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	sipAddr := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	args := []string{"serve", "--demo", "--data", data, "--db", dsn, "--http", httpAddr, "--sip", sipAddr,
		"--trunk", "127.0.0.1:" + strconv.Itoa(trunk), "--rtp-ports", "44000-45999", "--log-level", "warn"}

	var out bytes.Buffer
	child := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	child.Env = append(os.Environ(), "CALLREC_SERVE_HELPER=1", "CALLREC_SERVE_ARGS="+strings.Join(args, "\t"),
		"CALLREC_ADMIN_PASSWORD=platform-admin-pw")
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	waitHealthy(t, httpAddr, nil)

	p := &product{t: t, data: data, db: dsn, http: httpAddr}
	tok := p.token("demo-admin")
	p.bookDemoPool(tok)

	max := strconv.Itoa(n)
	callee := sipptest.Start(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"},
		"-p", strconv.Itoa(trunk), "-m", max)
	time.Sleep(200 * time.Millisecond)
	caller := sipptest.Start(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "120000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(sipptest.FreePort(t)), "-s", "49711218431431", "-m", max, "-l", max, "-r", "50", sipAddr)

	// Every call is recording once its file holds a little audio; then two more seconds.
	dir := filepath.Join(data, "call_recording", "337826", "4971121843140")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
		grown := 0
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && st.Size() > 44+8000 {
				grown++
			}
		}
		if grown == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls recording after 60 s\n%s", grown, n, out.String())
		}
	}
	time.Sleep(2 * time.Second)
	if err := child.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	killed := time.Now()
	_ = child.Wait()
	_ = caller.Wait(t, time.Millisecond) // stop the peers (Wait kills on timeout)
	_ = callee.Wait(t, time.Millisecond)

	// The next start repairs; then stop it so the database can be read.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out2 syncBuffer
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, &out2)
	}()
	waitHealthy(t, httpAddr, done)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("restart: %v\n%s", err, out2.String())
	}

	type row struct {
		Outcome, State, Path, Status, Failure string
		Bridged                               *time.Time
		DurationMS                            int64
	}
	var rows []row
	db := openSQL(t, dsn)
	rs, err := db.Query(`select c.outcome, c.state, c.bridged, r.path, r.status, r.failure, r.duration_ms
		from calls c join recordings r on r.call_id = c.id`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.Outcome, &r.State, &r.Bridged, &r.Path, &r.Status, &r.Failure, &r.DurationMS); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	rs.Close()
	db.Close()
	if len(rows) != n {
		t.Fatalf("%d recordings in the database, want %d", len(rows), n)
	}
	for _, r := range rows {
		if r.Outcome != "interrupted" || r.State != "ended" || r.Status != "interrupted" || r.Failure != "" || r.Bridged == nil {
			t.Errorf("%s: call %s/%s, recording %s %q, bridged %v", r.Path, r.State, r.Outcome, r.Status, r.Failure, r.Bridged)
			continue
		}
		path := filepath.Join(data, filepath.FromSlash(r.Path))
		if b, err := exec.Command(sox, path, "-n", "stat").CombinedOutput(); err != nil {
			t.Errorf("%s: sox cannot read it: %v\n%s", r.Path, err, b)
			continue
		}
		ch, frames, tail := wavTail(t, path)
		length := time.Duration(frames) * time.Second / 8000
		want := killed.Sub(*r.Bridged)
		if d := (length - want).Abs(); d > time.Second {
			t.Errorf("%s: %v of audio, the call was connected %v before the crash", r.Path, length, want)
		}
		if dm := time.Duration(r.DurationMS) * time.Millisecond; (dm - length).Abs() > 20*time.Millisecond {
			t.Errorf("%s: database says %v, file %v", r.Path, dm, length)
		}
		// Both voices are there up to the last half second before the end.
		for c := 0; c < ch; c++ {
			if rms := rms(tail, ch, c); rms < 300 {
				t.Errorf("%s: channel %d silent before the crash (rms %.0f)", r.Path, c, rms)
			}
		}
	}
}

// waitHealthy waits for /healthz; done reports an early exit.
func waitHealthy(t *testing.T, addr string, done chan error) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not come up")
		}
	}
}

// wavTail checks a repaired file's header against its size and returns the channel count,
// the frames, and the samples of the second before the last half second.
func wavTail(t *testing.T, path string) (int, int, []int16) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if riff := int(binary.LittleEndian.Uint32(b[4:])); riff+8 != len(b) {
		t.Fatalf("%s: RIFF size %d, file %d bytes", path, riff+8, len(b))
	}
	ch, rate, pcm := wav16(t, path)
	if rate != 8000 || ch != 2 {
		t.Fatalf("%s: %d Hz %d channels", path, rate, ch)
	}
	frames := len(pcm) / ch
	from, to := max(0, frames-12000), max(0, frames-4000)
	return ch, frames, pcm[from*ch : to*ch]
}
