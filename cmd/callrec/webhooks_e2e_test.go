package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callrec/internal/sipptest"
	"callrec/internal/storetest"
	"callrec/internal/testtool"
	"callrec/internal/webhooks"
	"callrec/models"
)

// hookReceiver is a customer's webhook receiver: a real HTTP server that checks every
// message's signature with the endpoint's secret, as README shows.
type hookReceiver struct {
	mu     sync.Mutex
	secret string
	msgs   []hookMsg
	ln     net.Listener
	srv    *http.Server
}

type hookMsg struct {
	at       time.Time
	id       string
	verified error
	Type     string             `json:"type"`
	Data     models.WebhookData `json:"data"`
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	m := hookMsg{at: time.Now(), id: req.Header.Get("webhook-id")}
	m.verified = webhooks.Verify(r.secretNow(), m.id, req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature"), body, time.Now())
	if err := json.Unmarshal(body, &m); err != nil && m.verified == nil {
		m.verified = err
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *hookReceiver) secretNow() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.secret
}

// listen starts serving on addr ("127.0.0.1:0" for a new port).
func (r *hookReceiver) listen(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r.ln, r.srv = ln, &http.Server{Handler: r}
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Close() })
	return ln.Addr().String()
}

// of returns the messages of one type.
func (r *hookReceiver) of(typ string) []hookMsg {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hookMsg
	for _, m := range r.msgs {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

// register creates the webhook through the API, as a customer admin would.
func (p *product) register(tok, url string, rcv *hookReceiver) {
	p.t.Helper()
	var ep struct {
		ID     uint   `json:"id"`
		Secret string `json:"secret"`
	}
	if st := p.api(tok, "POST", "/webhooks", map[string]any{"url": url,
		"events": []string{models.EventRecordingCompleted, models.EventCallEnded}}, &ep); st != http.StatusCreated || ep.Secret == "" {
		p.t.Fatalf("register webhook: %d %+v", st, ep)
	}
	rcv.mu.Lock()
	rcv.secret = ep.Secret
	rcv.mu.Unlock()
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return string(b)
}

// metric is the value of the sample whose name and labels are exactly series, or -1.
func metric(text, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// promtoolCheck runs `promtool check metrics` on a scrape.
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	promtool := testtool.Need(t, "promtool", "prometheus")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestWebhookAndMetricsOfACall is the walk-through as a new user: register a receiver,
// place a call with sipp, see the signed recording.completed arrive within 5 s of the hang-up
// and fetch the audio with its link; a scrape during the call shows it active, one after it the
// counters moved, and promtool accepts the output.
func TestWebhookAndMetricsOfACall(t *testing.T) {
	testtool.Need(t, "sipp", "sip-tester")
	metricsAddr := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	p := startProduct(t, "--webhook-allow-insecure", "--metrics", metricsAddr)
	tok := p.token("demo-admin")
	p.bookDemoPool(tok)
	rcv := &hookReceiver{}
	p.register(tok, "http://"+rcv.listen(t, "127.0.0.1:0")+"/callrec", rcv)

	before := scrape(t, metricsAddr)
	if v := metric(before, "callrec_calls_active"); v != 0 {
		t.Fatalf("calls_active before the call: %v", v)
	}
	callee := sipptest.Start(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "0"}, "-p", strconv.Itoa(p.trunkPort))
	time.Sleep(200 * time.Millisecond)
	caller := sipptest.Start(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "9000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(sipptest.FreePort(t)), "-s", "49711218431431", p.sip)
	var during string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		during = scrape(t, metricsAddr)
		if metric(during, "callrec_calls_active") == 1 && metric(during, "callrec_recordings_active") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scrape showed the call active and recording:\n%s", during)
		}
	}
	promtoolCheck(t, during)
	if err := caller.Wait(t, 60*time.Second); err != nil {
		t.Fatalf("caller: %v\n%s", err, p.out)
	}
	hangup := time.Now()
	if err := callee.Wait(t, 20*time.Second); err != nil {
		t.Fatalf("callee: %v", err)
	}
	var done []hookMsg
	for deadline := hangup.Add(30 * time.Second); len(done) == 0; time.Sleep(20 * time.Millisecond) {
		if done = rcv.of(models.EventRecordingCompleted); len(done) == 0 && time.Now().After(deadline) {
			t.Fatalf("no recording.completed\n%s", p.out)
		}
	}
	m := done[0]
	took := m.at.Sub(hangup)
	t.Logf("recording.completed arrived %s after the caller's sipp ended", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("recording.completed took %s after the hang-up, want within 5 s", took)
	}
	if m.verified != nil {
		t.Fatalf("signature: %v", m.verified)
	}
	r, c := m.Data.Recording, m.Data.Call
	if r == nil || c == nil || c.A != "49711218431440" || c.B != "49711218431431" || c.C != "4915258878874" || c.Outcome != "completed" ||
		r.Status != "complete" || !strings.HasPrefix(r.FileName, "rec_") || r.DurationMS < 2000 || r.DownloadURL == "" || len(c.Trail) == 0 {
		t.Fatalf("payload: %+v %+v", c, r)
	}
	// The link works without a token and serves the file of the File Browser.
	resp, err := http.Get(r.DownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	audio, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	onDisk, _ := os.ReadFile(filepath.Join(p.data, filepath.FromSlash(r.Path)))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || len(audio) < 44 || !bytes.Equal(audio, onDisk) {
		t.Fatalf("download link: %d %s, %d bytes (file %d)", resp.StatusCode, resp.Header.Get("Content-Type"), len(audio), len(onDisk))
	}
	for deadline := time.Now().Add(10 * time.Second); len(rcv.of(models.EventCallEnded)) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no call.ended")
		}
	}

	var after string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		after = scrape(t, metricsAddr)
		if metric(after, `callrec_webhook_deliveries_total{result="delivered"}`) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries not counted:\n%s", after)
		}
	}
	promtoolCheck(t, after)
	for series, want := range map[string]func(float64) bool{
		"callrec_calls_active":                                                                         func(v float64) bool { return v == 0 },
		`callrec_calls_total{outcome="completed"}`:                                                     func(v float64) bool { return v == 1 },
		`callrec_recordings_total{result="complete"}`:                                                  func(v float64) bool { return v == 1 },
		`callrec_rtp_packets_total{result="received"}`:                                                 func(v float64) bool { return v > 200 },
		`callrec_rtp_packets_total{result="relayed"}`:                                                  func(v float64) bool { return v > 200 },
		`callrec_sip_requests_total{code="200",method="INVITE"}`:                                       func(v float64) bool { return v == 1 },
		`callrec_sip_requests_total{code="200",method="BYE"}`:                                          func(v float64) bool { return v == 1 },
		`callrec_recording_silence_filled_seconds_total`:                                               func(v float64) bool { return v >= 0 },
		`callrec_webhook_backlog`:                                                                      func(v float64) bool { return v == 0 },
		`callrec_http_request_duration_seconds_count{code="201",route="/api/v1/webhooks"}`:             func(v float64) bool { return v == 1 },
		`callrec_http_request_duration_seconds_count{code="200",route="/api/v1/recordings/:id/audio"}`: func(v float64) bool { return v == 1 },
	} {
		if v := metric(after, series); !want(v) {
			t.Errorf("%s = %v", series, v)
		}
	}
	for _, family := range []string{"go_goroutines", "process_resident_memory_bytes", "callrec_storage_upload_duration_seconds_count"} {
		if !strings.Contains(after, "\n"+family) {
			t.Errorf("no %s", family)
		}
	}
	// No label carries a number or a name of the customer.
	for _, secret := range []string{"49711218431440", "4915258878874", "337826", "Demo GmbH", "demo-admin"} {
		if strings.Contains(after, secret) {
			t.Errorf("the metrics mention %q", secret)
		}
	}
}

// TestWebhookSurvivesKill9: the call ends while the receiver is down, so its messages wait in the
// outbox; the product is killed with SIGKILL; after the restart, with the receiver back, every
// message arrives, signed, with the webhook-id it had before the crash.
func TestWebhookSurvivesKill9(t *testing.T) {
	testtool.Need(t, "sipp", "sip-tester")
	data := t.TempDir()
	trunk := sipptest.FreePort(t)
	httpAddr := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	sipAddr := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	db := storetest.DSN(t, data) // the restart below must find this database
	args := []string{"serve", "--demo", "--data", data, "--db", db, "--http", httpAddr, "--sip", sipAddr, "--webhook-allow-insecure",
		"--trunk", "127.0.0.1:" + strconv.Itoa(trunk), "--rtp-ports", "46000-46199", "--log-level", "warn"}
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
	p := &product{t: t, data: data, db: db, http: httpAddr}
	tok := p.token("demo-admin")
	p.bookDemoPool(tok)

	// The receiver's address, with nothing listening yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rcvAddr := ln.Addr().String()
	ln.Close()
	rcv := &hookReceiver{}
	p.register(tok, "http://"+rcvAddr+"/callrec", rcv)

	callerErr, calleeErr := sipptest.Run(t, sipAddr, trunk, sipptest.Call{From: "49711218431440", Dialed: "49711218431431", HoldMS: 9000})
	if callerErr != nil || calleeErr != nil {
		t.Fatalf("sipp: %v %v\n%s", callerErr, calleeErr, out.String())
	}
	// Both messages are in the outbox and have been tried (and failed) at least once.
	var before []struct {
		MsgID    string `json:"webhook_id"`
		Event    string `json:"event"`
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
	}
	var epID uint
	var eps []struct {
		ID uint `json:"id"`
	}
	p.api(tok, "GET", "/webhooks", nil, &eps)
	epID = eps[0].ID
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		p.api(tok, "GET", "/webhooks/"+strconv.Itoa(int(epID))+"/deliveries", nil, &before)
		if len(before) == 2 && before[0].Attempts > 0 && before[1].Attempts > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox: %+v\n%s", before, out.String())
		}
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = child.Wait()

	rcv.listen(t, rcvAddr)
	productDBs.Store(data, db) // a second start on data, not a new product
	p2 := startProductIn(t, data, nil, "--webhook-allow-insecure")
	_ = p2
	want := map[string]string{}
	for _, d := range before {
		if d.Status != models.DeliveryPending {
			t.Fatalf("delivered before the crash: %+v", d)
		}
		want[d.Event] = d.MsgID
	}
	// The dead process's delivery lease runs out first (at most 15 s).
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if len(rcv.of(models.EventRecordingCompleted)) > 0 && len(rcv.of(models.EventCallEnded)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered after the restart\n%s", p2.out)
		}
	}
	for ev, id := range want {
		got := rcv.of(ev)
		if len(got) != 1 || got[0].id != id || got[0].verified != nil {
			t.Fatalf("%s after the restart: %+v, want webhook-id %s", ev, got, id)
		}
	}
}
