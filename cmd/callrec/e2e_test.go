package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callrec/internal/sipptest"
	"callrec/internal/storetest"
	"callrec/internal/testtool"
)

// product is callrec serve running in-process on free ports with its own data folder.
type product struct {
	t                testing.TB
	data, http, sip  string
	db               string // --db: storetest's choice of backend
	trunkPort        int
	out              *syncBuffer
	cancel           func()
	done             chan error
	adminPW, agentPW string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProduct(t *testing.T, extra ...string) *product {
	t.Helper()
	return startProductIn(t, t.TempDir(), nil, extra...)
}

// productDBs remembers the --db of each data folder, so that a second start on a folder finds
// the database the first one made (a new PostgreSQL database per start would not).
var productDBs sync.Map

// startProductIn starts the product on the data folder data (a second start finds what the
// first left), with env added to its environment.
func startProductIn(t testing.TB, data string, env map[string]string, extra ...string) *product {
	t.Helper()
	p := &product{t: t, data: data, trunkPort: sipptest.FreePort(t), out: &syncBuffer{}, done: make(chan error, 1)}
	fresh := false
	if db, ok := productDBs.Load(data); ok {
		p.db = db.(string)
	} else {
		_, err := os.Stat(filepath.Join(data, "callrec.db"))
		p.db, fresh = storetest.DSN(t, data), err != nil
		productDBs.Store(data, p.db)
	}
	for i, a := range extra { // a test's own --db wins (flags: the last one given)
		if a == "--db" && i+1 < len(extra) {
			p.db = extra[i+1]
		}
	}
	p.http = "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	p.sip = "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	args := append([]string{"serve", "--demo", "--data", p.data, "--db", p.db, "--http", p.http, "--sip", p.sip,
		"--trunk", "127.0.0.1:" + strconv.Itoa(p.trunkPort), "--rtp-ports", "41000-41999", "--log-level", "warn"}, extra...)
	env = maps.Clone(env)
	if env == nil {
		env = map[string]string{}
	}
	env["CALLREC_ADMIN_PASSWORD"] = "platform-admin-pw"
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { p.done <- run(ctx, args, func(k string) string { return env[k] }, p.out) }()
	t.Cleanup(p.stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + p.http + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("serve ended: %v\n%s", err, p.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up\n%s", p.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := regexp.MustCompile(`customer admin: user demo-admin, password (\S+)\s+agent:\s+user demo-agent, password (\S+)`).FindStringSubmatch(p.out.String())
	if m == nil && !fresh {
		return p // a second start on the same data: the demo is seeded already
	}
	if m == nil {
		t.Fatalf("demo passwords not printed:\n%s", p.out)
	}
	p.adminPW, p.agentPW = m[1], m[2]
	return p
}

func (p *product) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Errorf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		p.t.Error("serve did not stop within 20 s")
	}
}

// token creates an API token through the CLI, as an operator would.
func (p *product) token(user string) string {
	p.t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"apikey", "create", "--user", user, "--data", p.data, "--db", p.db}, func(string) string { return "" }, &out); err != nil {
		p.t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}

func (p *product) api(tok, method, path string, body any, out any) int {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+p.http+"/api/v1"+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			p.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// bookDemoPool books Call Recording for the demo's only pool through the API, as a customer admin
// would: automatic, stereo, without the caller notice (15 s of German) so test calls stay short.
func (p *product) bookDemoPool(tok string) {
	p.t.Helper()
	var pools struct {
		Pools []struct {
			ID uint `json:"id"`
		} `json:"pools"`
	}
	if st := p.api(tok, "GET", "/pools", nil, &pools); st != 200 || len(pools.Pools) != 1 {
		p.t.Fatalf("pools: %d %+v", st, pools)
	}
	pool := strconv.Itoa(int(pools.Pools[0].ID))
	if st := p.api(tok, "PUT", "/pools/"+pool+"/call-recording/booking", map[string]bool{"legal_notice_accepted": true}, nil); st != http.StatusCreated {
		p.t.Fatalf("booking: %d", st)
	}
	if st := p.api(tok, "PATCH", "/pools/"+pool+"/call-recording", map[string]any{"channels": "stereo", "mode": "automatic", "announcement": false}, nil); st != 200 {
		p.t.Fatalf("settings: %d", st)
	}
}

// wav16 reads a 16-bit PCM WAV: channels, rate and interleaved samples.
func wav16(t *testing.T, path string) (int, int, []int16) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not a WAV file", path)
	}
	var ch, rate int
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8:]
		switch id {
		case "fmt ":
			ch, rate = int(binary.LittleEndian.Uint16(body[2:])), int(binary.LittleEndian.Uint32(body[4:]))
			if bits := binary.LittleEndian.Uint16(body[14:]); bits != 16 {
				t.Fatalf("%d bits", bits)
			}
		case "data":
			if size > len(body) {
				t.Fatalf("data chunk claims %d bytes, file has %d", size, len(body))
			}
			pcm := make([]int16, size/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return ch, rate, pcm
		}
		off += 8 + size + size&1
	}
	t.Fatal("no data chunk")
	return 0, 0, nil
}

func rms(pcm []int16, channels, ch int) float64 {
	var sum float64
	n := 0
	for i := ch; i < len(pcm); i += channels {
		sum += float64(pcm[i]) * float64(pcm[i])
		n++
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(sum / float64(n))
}

// TestDemoCallIsRecordedUnderTheSeedsName is the product's walk-through: serve --demo, book the
// module through the API, place a sipp call from 49711218431440 to 49711218431431 through the
// engine to a sipp destination, and find the recording under the product document's folder and
// name, with the caller in the left channel and the destination in the right.
func TestDemoCallIsRecordedUnderTheSeedsName(t *testing.T) {
	testtool.Need(t, "sipp", "sip-tester")
	p := startProduct(t)
	tok := p.token("demo-admin")

	p.bookDemoPool(tok)

	// Without the caller notice (15 s of German) the call is quick: the callee hears the whisper
	// (about 6 s), then both talk for a few seconds.
	start := time.Now()
	callerErr, calleeErr := sipptest.Run(t, p.sip, p.trunkPort, sipptest.Call{
		From: "49711218431440", Dialed: "49711218431431", HoldMS: 10000,
	})
	if callerErr != nil || calleeErr != nil {
		t.Fatalf("sipp: caller %v, callee %v\n%s", callerErr, calleeErr, p.out)
	}

	dir := filepath.Join(p.data, "call_recording", "337826", "4971121843140")
	var files []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		files, _ = filepath.Glob(filepath.Join(dir, "*.wav"))
		if len(files) > 0 {
			break
		}
	}
	if len(files) != 1 {
		t.Fatalf("recordings in %s: %v\n%s", dir, files, p.out)
	}
	name := filepath.Base(files[0])
	berlin, _ := time.LoadLocation("Europe/Berlin")
	want := regexp.MustCompile(`^rec_(\d{8})_(\d{6})_337826_4971121843140_49711218431440_49711218431431_4915258878874\.wav$`)
	m := want.FindStringSubmatch(name)
	if m == nil {
		t.Fatalf("file name %q does not follow the seed document", name)
	}
	at, err := time.ParseInLocation("20060102150405", m[1]+m[2], berlin)
	if err != nil || at.Before(start.Add(-2*time.Second)) || at.After(start.Add(10*time.Second)) {
		t.Fatalf("file time %v is not the call's arrival (test started %v) in Europe/Berlin", at, start)
	}
	ch, rate, pcm := wav16(t, files[0])
	if ch != 2 || rate != 8000 {
		t.Fatalf("format: %d channels, %d Hz", ch, rate)
	}
	if l, r := rms(pcm, 2, 0), rms(pcm, 2, 1); l < 300 || r < 300 {
		t.Fatalf("voices: left (caller) rms %.0f, right (callee) rms %.0f", l, r)
	}
	fmt.Fprintf(os.Stderr, "recorded %s: %.2f s\n", name, float64(len(pcm)/2)/8000)
}
