package web

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callrec/internal/enginestore"
	"callrec/internal/sipptest"
	"callrec/internal/testtool"
	"callrec/media"
	"callrec/models"
)

// The whole product for the Live calls tests (calls_e2e_test.go): the real engine on
// 127.0.0.1, wired to the store and this server by the same enginestore Directory and Sink as
// cmd/callrec, and sipp as caller and destination. The demo pool's Call Recording module is
// booked through the store, with short uploaded announcements.

// liveTap stands between the Sink and the server: it forwards every saved call to the Live
// calls pages and notes when it saw what, for the test to wait on and to report.
type liveTap struct {
	srv *Server

	mu        sync.Mutex
	connected map[string]time.Time // when each call was first saved connected
	ended     chan media.CallInfo
	endedAt   map[string]time.Time
}

func (s *liveTap) CallChanged(c media.CallInfo) {
	s.mu.Lock()
	if _, ok := s.connected[c.ID]; !ok && c.State == media.StateConnected {
		s.connected[c.ID] = time.Now()
	}
	s.mu.Unlock()
	s.srv.CallChanged(c)
}

func (s *liveTap) CallEnded(c media.CallInfo) {
	s.mu.Lock()
	s.endedAt[c.ID] = time.Now()
	s.mu.Unlock()
	s.srv.CallEnded(c)
	s.ended <- c
}

// errorLog keeps the messages logged at error level (the Sink logs a failed SaveCall).
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *errorLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }

func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }

func (l *errorLog) WithGroup(string) slog.Handler { return l }

func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	l.mu.Lock()
	l.msgs = append(l.msgs, msg)
	l.mu.Unlock()
	return nil
}

func (le *liveEnv) waitEnded(t *testing.T) media.CallInfo {
	t.Helper()
	select {
	case c := <-le.sink.ended:
		le.errs.mu.Lock()
		defer le.errs.mu.Unlock()
		if len(le.errs.msgs) > 0 {
			t.Fatalf("engine wiring logged errors: %q", le.errs.msgs)
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
	sink  *liveTap
	errs  *errorLog
	trunk int
}

// bookDemo books Call Recording for the demo pool as its customer admin, in mode, with or
// without the caller notice, mono, and the test's short announcements uploaded as the
// customer's files (the shipped prompts last seconds; these under one).
func bookDemo(t *testing.T, e *env, mode string, notice bool) {
	t.Helper()
	ctx := context.Background()
	u, err := e.store.UserByName(ctx, e.demo.Admin)
	if err != nil {
		t.Fatal(err)
	}
	admin := models.ActorOf(u)
	pool, err := e.store.PoolByNumber(ctx, "4971121843140")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.BookCallRecording(ctx, admin, pool.ID, models.BookingInput{Accepted: true,
		Notice: models.LegalNotice{Text: "Legal notice", Language: "de"}}); err != nil {
		t.Fatal(err)
	}
	mono := models.ChannelsMono
	if _, err := e.store.UpdateCallRecordingSettings(ctx, admin, pool.ID, models.SettingsPatch{Mode: &mode,
		CallerAnnouncement: &notice, Channels: &mono}); err != nil {
		t.Fatal(err)
	}
	c, err := e.store.AnnouncementCustomer(ctx, admin, 0)
	if err != nil {
		t.Fatal(err)
	}
	for slot, name := range map[string]string{models.SlotCallerNotice: "notice.wav",
		models.SlotObjectionConfirmation: "confirmation.wav", models.SlotCalleeWhisper: "whisper.wav"} {
		b, err := os.ReadFile(sipptest.Testdata(name))
		if err != nil {
			t.Fatal(err)
		}
		folder := models.AnnouncementFolder(c.SubscriberID)
		if err := os.MkdirAll(filepath.Join(e.dir, filepath.FromSlash(folder)), 0o750); err != nil {
			t.Fatal(err)
		}
		f := &models.File{Name: name, Path: folder + "/" + name, Size: int64(len(b)), Codec: "pcm_u8", Bits: 8, Rate: 16000,
			Channels: 1, Ready: true}
		if err := os.WriteFile(filepath.Join(e.dir, filepath.FromSlash(f.Path)), b, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := e.store.CreateAnnouncementFile(ctx, admin, "", c, f, "file.uploaded"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.store.SetAnnouncement(ctx, admin, "", pool.ID, slot,
			models.AnnouncementChange{Source: models.SourceFile, FileID: f.ID}); err != nil {
			t.Fatal(err)
		}
	}
}

// newLiveEnv runs the engine with the product's Directory and Sink on a fresh store whose demo
// pool records in mode (with or without the caller notice); other pools have no recording module.
func newLiveEnv(t *testing.T, mode string, notice bool) *liveEnv {
	t.Helper()
	testtool.Need(t, "sipp", "sip-tester")
	trunk := sipptest.FreePort(t)
	dir := &enginestore.Directory{}
	errs := &errorLog{}
	sink := enginestore.NewSink(slog.New(errs))
	tap := &liveTap{connected: map[string]time.Time{}, endedAt: map[string]time.Time{}, ended: make(chan media.CallInfo, 8)}
	var eng *media.Engine
	e := newEnvWith(t, func(c *Config) {
		var err error
		dir.DataDir = c.DataDir
		eng, err = media.New(media.Config{SIPAddr: "127.0.0.1:0", Trunk: "127.0.0.1:" + strconv.Itoa(trunk),
			RTPPorts: [2]int{40000, 43999}, DataDir: c.DataDir, RingTimeout: 10 * time.Second,
			ObjectionWindow: 500 * time.Millisecond, BusyTone: 500 * time.Millisecond}, dir, sink)
		if err != nil {
			t.Fatal(err)
		}
		c.Engine = eng
	})
	bookDemo(t, e, mode, notice)
	if err := enginestore.InstallDefaultPrompts(e.dir); err != nil {
		t.Fatal(err)
	}
	dir.Store, tap.srv = e.store, e.web
	sink.Start(e.store, tap)
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
		sink.Close() // every event saved
	})
	return &liveEnv{env: e, eng: eng, sink: tap, errs: errs, trunk: trunk}
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
