package media

// What the engine's end-to-end tests share: an in-memory Directory and Sink, an engine on free
// ports, sipp runs, and readers of the WAV files they make.

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"callrec/internal/sipptest"
	"callrec/internal/testtool"
)

// memDir is an in-memory Directory.
type memDir map[string]Route

func (d memDir) Route(_ context.Context, dialed string) (Route, error) {
	r, ok := d[dialed]
	if !ok {
		return Route{}, ErrUnknownNumber
	}
	return r, nil
}

// recSink records every event and hands over the final one.
type recSink struct {
	mu      sync.Mutex
	changes []CallInfo
	ended   chan CallInfo
}

func newRecSink() *recSink { return &recSink{ended: make(chan CallInfo, 16)} }

func (s *recSink) CallChanged(_ context.Context, c CallInfo) {
	s.mu.Lock()
	s.changes = append(s.changes, c)
	s.mu.Unlock()
}

func (s *recSink) CallEnded(_ context.Context, c CallInfo) { s.ended <- c }

func (s *recSink) wait(t *testing.T, d time.Duration) CallInfo {
	t.Helper()
	select {
	case c := <-s.ended:
		return c
	case <-time.After(d):
		t.Fatal("no CallEnded")
	}
	return CallInfo{}
}

// freePort finds a port free for UDP and TCP on loopback.
func freePort(t *testing.T) int { return sipptest.FreePort(t) }

type testEngine struct {
	*Engine
	sink *recSink
	data string
	stop func()
}

func startEngine(t *testing.T, dir Directory, trunkPort int, mod func(*Config)) *testEngine {
	t.Helper()
	data := t.TempDir()
	cfg := Config{
		SIPAddr:         "127.0.0.1:0",
		Trunk:           "127.0.0.1:" + strconv.Itoa(trunkPort),
		RTPPorts:        [2]int{36000, 39999},
		DataDir:         data,
		RingTimeout:     10 * time.Second,
		ObjectionWindow: 500 * time.Millisecond,
		BusyTone:        500 * time.Millisecond,
	}
	if testing.Verbose() && os.Getenv("CALLREC_TEST_LOG") != "" {
		cfg.Logger = testLogger(t)
	}
	if mod != nil {
		mod(&cfg)
	}
	sink := newRecSink()
	e, err := New(cfg, dir, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("engine did not stop")
		}
	}
	t.Cleanup(stop)
	return &testEngine{Engine: e, sink: sink, data: data, stop: stop}
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sipp is one sip-tester process running a scenario from testdata (see internal/sipptest).
type sipp struct{ *sipptest.Sipp }

func startSipp(t *testing.T, scenario string, fields map[string]string, args ...string) *sipp {
	t.Helper()
	return &sipp{sipptest.Start(t, scenario, fields, args...)}
}

func (s *sipp) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	return s.Wait(t, d)
}

const pcapDir = sipptest.PcapDir

func playPcap(name string, afterMS int) string { return sipptest.PlayPcap(name, afterMS) }

type callSpec struct {
	from, dialed   string
	callerCodec    string // PCMU or PCMA
	calleeCodec    string
	callerActions  string
	calleeActions  string
	holdMS, ringMS int
}

func codecFields(codec, tone string) (pt, audio string) {
	if codec == "PCMA" {
		return "8", tone + ".alaw"
	}
	return "0", tone + ".ulaw"
}

// runCall places one sipp call through the engine to a sipp destination on trunkPort.
func runCall(t *testing.T, e *testEngine, trunkPort int, c callSpec) (callerErr, calleeErr error) {
	t.Helper()
	pt, audio := codecFields(c.calleeCodec, "callee_1000")
	callee := startSipp(t, "sipp_callee.xml", map[string]string{
		"PT": pt, "CODEC": c.calleeCodec, "AUDIO": testdata(t, audio), "ACTIONS": c.calleeActions,
		"RING_MS": strconv.Itoa(c.ringMS),
	}, "-p", strconv.Itoa(trunkPort))
	time.Sleep(200 * time.Millisecond) // let the callee bind before the INVITE reaches it
	pt, audio = codecFields(c.callerCodec, "caller_440")
	caller := startSipp(t, "sipp_caller.xml", map[string]string{
		"PT": pt, "CODEC": c.callerCodec, "AUDIO": testdata(t, audio), "ACTIONS": c.callerActions,
		"HOLD_MS": strconv.Itoa(c.holdMS), "FROM": c.from,
	}, "-p", strconv.Itoa(freePort(t)), "-s", c.dialed, e.SIPAddr())
	callerErr = caller.wait(t, 60*time.Second)
	calleeErr = callee.wait(t, 20*time.Second)
	return callerErr, calleeErr
}

func demoRoute(t *testing.T, pol Policy) Route {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return Route{CustomerID: 1, PoolID: 2, SubscriberID: "337826", StartNumber: "4971121843140",
		Destination: "4915258878874", Location: loc, Recording: pol}
}

func activePolicy(t *testing.T, mode Mode) Policy {
	return Policy{Active: true, Mode: mode, CallerNotice: true, Stereo: true, Prompts: Prompts{
		CallerNotice:          testdata(t, "notice.wav"),
		ObjectionConfirmation: testdata(t, "confirmation.wav"),
		CalleeWhisper:         testdata(t, "whisper.wav"),
	}}
}

// wavPCM reads a 16-bit PCM WAV: channels and interleaved samples.
func wavPCM(t *testing.T, path string) (int, []int16) {
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
			if bits := binary.LittleEndian.Uint16(body[14:]); bits != 16 {
				t.Fatalf("bits %d", bits)
			}
			if rate := binary.LittleEndian.Uint32(body[4:]); rate != 8000 {
				t.Fatalf("rate %d", rate)
			}
		case "data":
			if size > len(body) {
				size = len(body)
			}
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

// channelStats gives RMS and zero crossings per second of one channel between from and to.
func channelStats(pcm []int16, channels, ch int, from, to time.Duration) (rms, zcr float64) {
	a, b := int(from.Seconds()*8000), int(to.Seconds()*8000)
	frames := len(pcm) / channels
	if b > frames {
		b = frames
	}
	if a >= b {
		return 0, 0
	}
	var sum float64
	cross := 0
	prev := int16(0)
	for i := a; i < b; i++ {
		v := pcm[i*channels+ch]
		sum += float64(v) * float64(v)
		if (v >= 0) != (prev >= 0) {
			cross++
		}
		prev = v
	}
	n := float64(b - a)
	return math.Sqrt(sum / n), float64(cross) / (n / 8000)
}

func hasEvent(c CallInfo, kind EventKind) bool {
	for _, e := range c.Events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

func soxReads(t *testing.T, path string) {
	t.Helper()
	sox := testtool.Need(t, "sox", "sox")
	out, err := exec.Command(sox, "--i", "-D", path).CombinedOutput()
	if err != nil {
		t.Fatalf("sox cannot read %s: %v %s", path, err, out)
	}
}

var seedName = regexp.MustCompile(`^call_recording/337826/4971121843140/rec_\d{8}_\d{6}_337826_4971121843140_49711218431440_49711218431431_4915258878874\.wav$`)
