package media

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
)

func TestAutomaticRecordingBothChannels(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, activePolicy(t, ModeAutomatic))}, trunk, nil)
	cerr, ferr := runCall(t, e, trunk, callSpec{from: "49711218431440", dialed: "49711218431431",
		callerCodec: "PCMU", calleeCodec: "PCMA", holdMS: 5000, ringMS: 300})
	if cerr != nil || ferr != nil {
		t.Fatalf("sipp caller: %v, callee: %v", cerr, ferr)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted || c.Recording == nil {
		t.Fatalf("outcome %q recording %+v events %+v", c.Outcome, c.Recording, c.Events)
	}
	if !seedName.MatchString(c.Recording.Path) {
		t.Fatalf("file name %q does not follow the seed's pattern", c.Recording.Path)
	}
	for _, k := range []EventKind{EventNoticePlayed, EventWhisperPlayed, EventRecordingStarted} {
		if !hasEvent(c, k) {
			t.Errorf("no %s event in %+v", k, c.Events)
		}
	}
	e.sink.mu.Lock()
	var states []string
	for _, ch := range e.sink.changes {
		if len(states) == 0 || states[len(states)-1] != string(ch.State)+"/"+string(ch.Rec) {
			states = append(states, string(ch.State)+"/"+string(ch.Rec))
		}
	}
	e.sink.mu.Unlock()
	if got := strings.Join(states, " "); got != "ringing/off announcing/off connected/off connected/recording" {
		t.Errorf("CallChanged states: %s", got)
	}
	path := filepath.Join(e.data, filepath.FromSlash(c.Recording.Path))
	soxReads(t, path)
	ch, pcm := wavPCM(t, path)
	if ch != 2 {
		t.Fatalf("channels %d", ch)
	}
	length := time.Duration(len(pcm)/2) * time.Second / 8000
	connected := c.Ended.Sub(c.Bridged)
	if d := length - connected; d < -40*time.Millisecond || d > 40*time.Millisecond {
		t.Errorf("file %v, connected %v", length, connected)
	}
	// Caller sent 440 Hz (left), callee 1000 Hz (right): ~880 and ~2000 zero crossings/s.
	lr, lz := channelStats(pcm, 2, 0, 500*time.Millisecond, length-500*time.Millisecond)
	rr, rz := channelStats(pcm, 2, 1, 500*time.Millisecond, length-500*time.Millisecond)
	t.Logf("file %v connected %v; left rms %.0f zcr %.0f; right rms %.0f zcr %.0f", length, connected, lr, lz, rr, rz)
	if lr < 1000 || rr < 1000 {
		t.Fatalf("silent channel: left %.0f right %.0f", lr, rr)
	}
	if math.Abs(lz-880) > 150 || math.Abs(rz-2000) > 300 {
		t.Fatalf("channels mixed up: left zcr %.0f right zcr %.0f", lz, rz)
	}
	noLeaks(t, e)
}

func TestStarObjectionGivesNoFile(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, activePolicy(t, ModeAutomatic))}, trunk, nil)
	cerr, ferr := runCall(t, e, trunk, callSpec{from: "49711218431440", dialed: "49711218431431",
		callerCodec: "PCMA", calleeCodec: "PCMA", holdMS: 4000, ringMS: 200,
		callerActions: playPcap("dtmf_2833_star.pcap", 200)})
	if cerr != nil || ferr != nil {
		t.Fatalf("sipp caller: %v, callee: %v", cerr, ferr)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeObjected || c.Rec != RecObjected || c.Recording != nil {
		t.Fatalf("outcome %q rec %q recording %+v events %+v", c.Outcome, c.Rec, c.Recording, c.Events)
	}
	for _, k := range []EventKind{EventStarPressed, EventConfirmationPlayed} {
		if !hasEvent(c, k) {
			t.Errorf("no %s event in %+v", k, c.Events)
		}
	}
	if hasEvent(c, EventWhisperPlayed) {
		t.Error("whisper played although nothing is recorded")
	}
	if c.Bridged.IsZero() {
		t.Error("objected call must still be connected")
	}
	files := 0
	_ = filepath.Walk(e.data, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files++
			t.Errorf("file written: %s", p)
		}
		return nil
	})
	if _, err := e.StartRecording(c.ID, "agent"); !errors.Is(err, ErrNoSuchCall) {
		t.Errorf("StartRecording after end: %v", err)
	}
	noLeaks(t, e)
}

func TestHash1SilencesTheRest(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, activePolicy(t, ModeAutomatic))}, trunk, nil)
	cerr, ferr := runCall(t, e, trunk, callSpec{from: "49711218431440", dialed: "49711218431431",
		callerCodec: "PCMU", calleeCodec: "PCMU", holdMS: 6000, ringMS: 200,
		calleeActions: playPcap("dtmf_2833_pound.pcap", 1500) + playPcap("dtmf_2833_1.pcap", 300)})
	if cerr != nil || ferr != nil {
		t.Fatalf("sipp caller: %v, callee: %v", cerr, ferr)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted || c.Recording == nil || !hasEvent(c, EventHash1Pressed) {
		t.Fatalf("outcome %q recording %+v events %+v", c.Outcome, c.Recording, c.Events)
	}
	var stop time.Duration
	for _, ev := range c.Events {
		if ev.Kind == EventHash1Pressed {
			stop = ev.At.Sub(c.Bridged)
		}
	}
	ch, pcm := wavPCM(t, filepath.Join(e.data, filepath.FromSlash(c.Recording.Path)))
	length := time.Duration(len(pcm)/ch) * time.Second / 8000
	if d := length - c.Ended.Sub(c.Bridged); d < -40*time.Millisecond || d > 40*time.Millisecond {
		t.Errorf("file %v, connected %v", length, c.Ended.Sub(c.Bridged))
	}
	before, _ := channelStats(pcm, ch, 1, 300*time.Millisecond, stop-200*time.Millisecond)
	afterL, _ := channelStats(pcm, ch, 0, stop+100*time.Millisecond, length)
	afterR, _ := channelStats(pcm, ch, 1, stop+100*time.Millisecond, length)
	t.Logf("#1 at %v of %v; callee rms before %.0f, after: left %.0f right %.0f; recorded %v", stop, length, before, afterL, afterR, c.Recording.Recorded)
	if before < 1000 || afterL != 0 || afterR != 0 {
		t.Fatal("the rest after #1 must be digital silence, the part before audio")
	}
	if length-stop < 2*time.Second {
		t.Fatalf("call went on only %v after #1", length-stop)
	}
}

func TestUnbookedPoolIsAPlainB2BUA(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	route := demoRoute(t, Policy{Active: false, Prompts: activePolicy(t, ModeAutomatic).Prompts})
	e := startEngine(t, memDir{"49711218431431": route}, trunk, nil)
	cerr, ferr := runCall(t, e, trunk, callSpec{from: "49711218431440", dialed: "49711218431431",
		callerCodec: "PCMA", calleeCodec: "PCMU", holdMS: 2500, ringMS: 300})
	if cerr != nil || ferr != nil {
		t.Fatalf("sipp caller: %v, callee: %v", cerr, ferr)
	}
	c := e.sink.wait(t, 10*time.Second)
	t.Logf("packets in %v out %v, events %+v", c.PacketsIn, c.PacketsOut, c.Events)
	if c.Outcome != OutcomeCompleted || c.Recording != nil || c.Rec != RecOff || len(c.Events) != 0 {
		t.Fatalf("outcome %q rec %q recording %+v events %+v", c.Outcome, c.Rec, c.Recording, c.Events)
	}
	// Two seconds of 20 ms audio each way, relayed (and transcoded) both ways.
	for leg := 0; leg < 2; leg++ {
		if c.PacketsIn[leg] < 50 || c.PacketsOut[leg] < 50 {
			t.Fatalf("leg %d: in %d out %d packets", leg, c.PacketsIn[leg], c.PacketsOut[leg])
		}
	}
	if _, err := os.Stat(filepath.Join(e.data, "call_recording")); !os.IsNotExist(err) {
		t.Fatalf("unbooked pool wrote recordings: %v", err)
	}
	if _, err := e.StartRecording(c.ID, "agent"); !errors.Is(err, ErrNoSuchCall) {
		t.Fatalf("StartRecording on an ended call: %v", err)
	}
}

func TestManualStartStop(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	pol := activePolicy(t, ModeManual)
	pol.CallerNotice = false
	pol.Stereo = false
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, pol)}, trunk, nil)

	type step struct {
		info CallInfo
		err  error
	}
	steps := make(chan []step, 1)
	go func() {
		var out []step
		var id string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if cs := e.Calls(); len(cs) == 1 && cs[0].State == StateConnected {
				id = cs[0].ID
				break
			}
		}
		if id == "" {
			steps <- nil
			return
		}
		time.Sleep(time.Second)
		for _, f := range []func() (CallInfo, error){
			func() (CallInfo, error) { return e.StartRecording(id, "alice") },
			func() (CallInfo, error) { return e.StartRecording(id, "alice") }, // idempotent
		} {
			c, err := f()
			out = append(out, step{c, err})
		}
		time.Sleep(1500 * time.Millisecond)
		c, err := e.StopRecording(id, "bob")
		out = append(out, step{c, err})
		_, err = e.StartRecording("nope", "alice")
		out = append(out, step{err: err})
		steps <- out
	}()
	cerr, ferr := runCall(t, e, trunk, callSpec{from: "", dialed: "49711218431431",
		callerCodec: "PCMU", calleeCodec: "PCMU", holdMS: 5000, ringMS: 200})
	if cerr != nil || ferr != nil {
		t.Fatalf("sipp caller: %v, callee: %v", cerr, ferr)
	}
	s := <-steps
	if len(s) != 4 {
		t.Fatal("the call never showed up connected in Calls()")
	}
	if s[0].err != nil || s[0].info.Rec != RecRecording || s[1].err != nil || s[2].err != nil || s[2].info.Rec != RecStopped {
		t.Fatalf("start/stop: %+v", s)
	}
	if !errors.Is(s[3].err, ErrNoSuchCall) {
		t.Fatalf("unknown call: %v", s[3].err)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Recording == nil || len(c.Segments) != 1 || c.Recording.Channels != 1 {
		t.Fatalf("recording %+v segments %+v", c.Recording, c.Segments)
	}
	// A withheld caller is an empty field: ..._4971121843140__49711218431431_...
	if !strings.Contains(c.Recording.Path, "_4971121843140__49711218431431_4915258878874.wav") {
		t.Fatalf("name %q", c.Recording.Path)
	}
	starts := 0
	for _, ev := range c.Events {
		if ev.Kind == EventRecordingStarted {
			starts++
			if ev.By != "alice" {
				t.Errorf("started by %q", ev.By)
			}
		}
	}
	if starts != 1 {
		t.Errorf("%d start events, want 1 (idempotent)", starts)
	}
	seg := c.Segments[0]
	ch, pcm := wavPCM(t, filepath.Join(e.data, filepath.FromSlash(c.Recording.Path)))
	length := time.Duration(len(pcm)/ch) * time.Second / 8000
	if d := length - c.Ended.Sub(c.Bridged); d < -40*time.Millisecond || d > 40*time.Millisecond {
		t.Errorf("file %v, connected %v", length, c.Ended.Sub(c.Bridged))
	}
	pre, _ := channelStats(pcm, ch, 0, 0, seg.Start-50*time.Millisecond)
	in, _ := channelStats(pcm, ch, 0, seg.Start+200*time.Millisecond, seg.End-200*time.Millisecond)
	post, _ := channelStats(pcm, ch, 0, seg.End+50*time.Millisecond, length)
	t.Logf("segment %v-%v of %v: rms before %.0f during %.0f after %.0f", seg.Start, seg.End, length, pre, in, post)
	if pre != 0 || post != 0 || in < 1000 {
		t.Fatal("only the started stretch may hold audio")
	}
	if seg.Start < 800*time.Millisecond || seg.End-seg.Start < 1200*time.Millisecond {
		t.Fatalf("segment %+v", seg)
	}
}

// reinvite is a caller action: a re-INVITE with the given direction and codec, its 200, ACK.
func reinvite(cseq int, dir, pt, codec string) string {
	return fmt.Sprintf(`<send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:49711218431440@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: %[1]d INVITE
      Contact: <sip:49711218431440@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687638 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [rtpstream_audio_port] RTP/AVP %[3]s 101
      a=rtpmap:%[3]s %[4]s/8000
      a=rtpmap:101 telephone-event/8000
      a=%[2]s
    ]]></send>
  <recv response="200"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:49711218431440@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: %[1]d ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>`, cseq, dir, pt, codec)
}

// TestReinviteHoldKeepsTimeline: hold (sendonly) and resume with another codec in the middle
// of a recorded call over TCP; the file still spans the connected time.
func TestReinviteHoldKeepsTimeline(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	pol := activePolicy(t, ModeAutomatic)
	pol.CallerNotice = false
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, pol)}, trunk, nil)
	pt, audio := codecFields("PCMU", "callee_1000")
	// The hold and the resume are relayed to the destination, which answers them.
	relayed := func(dir string) string {
		return `<recv request="INVITE"/>` + "\n" + replyInDialog(200, "OK", "", sdpBody(dir)) + `<recv request="ACK"/>` + "\n"
	}
	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": pt, "CODEC": "PCMU",
		"AUDIO": testdata(t, audio), "ACTIONS": relayed("recvonly") + relayed("sendrecv"), "RING_MS": "100"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	pt, audio = codecFields("PCMU", "caller_440")
	actions := `<pause milliseconds="1500"/>` + reinvite(2, "sendonly", "0", "PCMU") +
		`<pause milliseconds="500"/>` + reinvite(3, "sendrecv", "8", "PCMA")
	caller := startSipp(t, "sipp_caller.xml", map[string]string{"PT": pt, "CODEC": "PCMU", "AUDIO": testdata(t, audio),
		"ACTIONS": actions, "HOLD_MS": "1500", "FROM": "49711218431440", "BYE_CSEQ": "4"},
		"-t", "t1", "-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", e.SIPAddr())
	if err := caller.wait(t, 40*time.Second); err != nil {
		t.Fatalf("sipp caller over TCP: %v\n%s", err, caller.Output())
	}
	if err := callee.wait(t, 10*time.Second); err != nil {
		t.Fatalf("sipp callee: %v", err)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted || c.Recording == nil {
		t.Fatalf("outcome %q recording %+v", c.Outcome, c.Recording)
	}
	ch, pcm := wavPCM(t, filepath.Join(e.data, filepath.FromSlash(c.Recording.Path)))
	length := time.Duration(len(pcm)/ch) * time.Second / 8000
	if d := length - c.Ended.Sub(c.Bridged); d < -40*time.Millisecond || d > 40*time.Millisecond {
		t.Errorf("file %v, connected %v", length, c.Ended.Sub(c.Bridged))
	}
	if rms, _ := channelStats(pcm, ch, 1, length-time.Second, length-200*time.Millisecond); rms < 1000 {
		t.Errorf("callee audio missing after the re-INVITEs: rms %.0f", rms)
	}
}

// TestRecordingFailureKeepsTheCall: the recording folder cannot be made (a file is in the
// way); the call goes on and the recording is marked failed with the reason.
func TestRecordingFailureKeepsTheCall(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	pol := activePolicy(t, ModeAutomatic)
	pol.CallerNotice = false
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, pol)}, trunk, nil)
	if err := os.WriteFile(filepath.Join(e.data, "call_recording"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	cerr, ferr := runCall(t, e, trunk, callSpec{from: "49711218431440", dialed: "49711218431431",
		callerCodec: "PCMU", calleeCodec: "PCMU", holdMS: 2500, ringMS: 100})
	if cerr != nil || ferr != nil {
		t.Fatalf("the call broke: caller %v callee %v", cerr, ferr)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted || c.Rec != RecFailed || !hasEvent(c, EventRecordingFailed) {
		t.Fatalf("outcome %q rec %q events %+v", c.Outcome, c.Rec, c.Events)
	}
	if c.PacketsOut[0] < 50 || c.PacketsOut[1] < 50 {
		t.Fatalf("media stopped: %v", c.PacketsOut)
	}
}

// TestShutdownEndsCalls: cancelling Run hangs up both legs and closes the file properly.
func TestShutdownEndsCalls(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	pol := activePolicy(t, ModeAutomatic)
	pol.CallerNotice = false
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, pol)}, trunk, nil)
	pt, audio := codecFields("PCMU", "callee_1000")
	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": pt, "CODEC": "PCMU",
		"AUDIO": testdata(t, audio), "ACTIONS": "", "RING_MS": "100"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	pt, audio = codecFields("PCMU", "caller_440")
	startSipp(t, "sipp_caller.xml", map[string]string{"PT": pt, "CODEC": "PCMU", "AUDIO": testdata(t, audio),
		"ACTIONS": "", "HOLD_MS": "30000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", e.SIPAddr())
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if cs := e.Calls(); len(cs) == 1 && cs[0].Rec == RecRecording {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("call never recorded")
		}
	}
	time.Sleep(time.Second)
	e.stop()
	c := e.sink.wait(t, 5*time.Second)
	if c.Outcome != OutcomeInterrupted || c.Recording == nil || c.Recording.Duration < 800*time.Millisecond {
		t.Fatalf("outcome %q recording %+v", c.Outcome, c.Recording)
	}
	if err := callee.wait(t, 10*time.Second); err != nil {
		t.Fatalf("callee got no BYE: %v", err)
	}
	soxReads(t, filepath.Join(e.data, filepath.FromSlash(c.Recording.Path)))
}

// TestEarlyMediaRelayed: a plain call whose destination sends 183 with SDP and audio before
// answering; the caller hears it before the bridge.
func TestEarlyMediaRelayed(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, Policy{})}, trunk, nil)
	callee := startSipp(t, "sipp_callee_early.xml", map[string]string{"PT": "8", "CODEC": "PCMA",
		"AUDIO": testdata(t, "callee_1000.alaw"), "RING_MS": "1500"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	caller := startSipp(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "1000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", e.SIPAddr())
	if err := caller.wait(t, 30*time.Second); err != nil {
		t.Fatalf("sipp caller: %v", err)
	}
	if err := callee.wait(t, 10*time.Second); err != nil {
		t.Fatalf("sipp callee: %v", err)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %q", c.Outcome)
	}
	e.sink.mu.Lock()
	defer e.sink.mu.Unlock()
	for _, ch := range e.sink.changes {
		if ch.State == StateConnected {
			t.Logf("at the bridge: %d packets sent to the caller", ch.PacketsOut[0])
			if ch.PacketsOut[0] < 30 {
				t.Fatalf("early media not relayed: %d packets before the bridge", ch.PacketsOut[0])
			}
			return
		}
	}
	t.Fatal("never connected")
}

// TestCalleeHangsUpCallerOnTCP: the destination ends the call; the engine's BYE reaches a
// caller that came over TCP.
func TestCalleeHangsUpCallerOnTCP(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, Policy{})}, trunk, nil)
	callee := startSipp(t, "sipp_callee_bye.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "RING_MS": "100", "HOLD_MS": "1500"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	caller := startSipp(t, "sipp_caller_byed.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "caller_440.ulaw"), "FROM": "49711218431440"},
		"-t", "t1", "-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", e.SIPAddr())
	if err := callee.wait(t, 20*time.Second); err != nil {
		t.Fatalf("sipp callee: %v", err)
	}
	if err := caller.wait(t, 20*time.Second); err != nil {
		t.Fatalf("sipp caller over TCP got no BYE: %v", err)
	}
	if c := e.sink.wait(t, 10*time.Second); c.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %q", c.Outcome)
	}
}
