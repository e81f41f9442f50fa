package media

// Fault tests of the load issue: hostile RTP on a live call, garbage and malformed SIP, calls
// that end early in every way (checked for leaked goroutines, sockets and ports), and a full
// disk. They use a raw SIP caller (rawUA) so the test controls every byte and every packet.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callrec/internal/testtool"
)

func TestRTPChaos(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, noticeOffPolicy(t))}, trunk, nil)
	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	u := newRawUA(t, e.SIPAddr())
	if code := u.call("49711218431431"); code != 200 {
		t.Fatalf("INVITE: %d", code)
	}
	waitRecording(t, e, u.callID)

	// 3 s of tone in 20 ms frames, sent on a jittered schedule with the faults mixed in.
	const frames = 150
	tone := toneFrames(frames)
	rng := mrand.New(mrand.NewPCG(1, 2))
	type send struct {
		at  time.Duration
		pkt []byte
	}
	var plan []send
	ssrc, tsBase := uint32(0x1234), uint32(1000)
	lost := 0
	for i := 0; i < frames; i++ {
		if i == 50 { // a new SSRC with a new timestamp origin (a re-INVITE'd phone, a failover)
			ssrc, tsBase = 0xbeef, 7_000_000-uint32(i*160)
		}
		if i == 100 { // the same stream's timestamps jump forward by 10 s
			tsBase += 80000
		}
		if rng.Float64() < 0.05 {
			lost++
			continue
		}
		pkt := rtpPacket(uint16(i), tsBase+uint32(i*160), ssrc, tone[i])
		at := time.Duration(i)*20*time.Millisecond + time.Duration(rng.Int64N(int64(60*time.Millisecond)))
		plan = append(plan, send{at, pkt})
		if rng.Float64() < 0.05 {
			plan = append(plan, send{at + time.Duration(rng.Int64N(int64(40*time.Millisecond))), pkt})
		}
	}
	// Sending in time order after random delays reorders packets as real jitter does.
	sortSends := func() {
		for i := 1; i < len(plan); i++ {
			for j := i; j > 0 && plan[j].at < plan[j-1].at; j-- {
				plan[j], plan[j-1] = plan[j-1], plan[j]
			}
		}
	}
	sortSends()
	start := time.Now()
	for _, s := range plan {
		time.Sleep(time.Until(start.Add(s.at)))
		_, _ = u.rtp.WriteToUDP(s.pkt, u.engineRTP)
	}
	sentFor := time.Since(start)
	time.Sleep(200 * time.Millisecond)
	if code := u.bye("49711218431431"); code != 200 {
		t.Fatalf("BYE: %d", code)
	}
	c := e.sink.wait(t, 10*time.Second)
	if err := callee.wait(t, 10*time.Second); err != nil {
		t.Errorf("sipp callee: %v", err)
	}
	if c.Outcome != OutcomeCompleted || c.Recording == nil || c.Recording.Failed != "" {
		t.Fatalf("outcome %q recording %+v", c.Outcome, c.Recording)
	}
	path := filepath.Join(e.data, filepath.FromSlash(c.Recording.Path))
	soxReads(t, path)
	ch, pcm := wavPCM(t, path)
	length := time.Duration(len(pcm)/ch) * time.Second / 8000
	if d := (length - c.Ended.Sub(c.Bridged)).Abs(); d > 40*time.Millisecond {
		t.Fatalf("file %v, connected %v", length, c.Ended.Sub(c.Bridged))
	}
	// Where the tone arrived (from the first packet to the last, relative to the bridge), each
	// 100 ms of the caller's channel holds it; the 5% loss only leaves 20-40 ms holes.
	from := start.Sub(c.Bridged) + 150*time.Millisecond
	to := from + sentFor - 300*time.Millisecond
	quiet := 0
	for at := from; at+100*time.Millisecond <= to; at += 100 * time.Millisecond {
		if rms, _ := channelStats(pcm, ch, 0, at, at+100*time.Millisecond); rms < 1500 {
			quiet++
			t.Logf("caller channel quiet at %v (rms %.0f)", at, rms)
		}
	}
	if quiet > 1 {
		t.Fatalf("%d windows of 100 ms without the caller's audio (lost %d of %d packets)", quiet, lost, frames)
	}
	if rms, _ := channelStats(pcm, ch, 1, from, to); rms < 1000 {
		t.Fatalf("callee channel rms %.0f", rms)
	}
	noLeaks(t, e)
}

// TestGarbageDoesNotHurtCalls: while a good call runs, the SIP port gets random datagrams,
// truncated and oversized messages and malformed requests, and the call's RTP ports get
// garbage. Malformed requests get the right 4xx where a reply is due, the engine survives,
// and the good call completes with both voices recorded.
func TestGarbageDoesNotHurtCalls(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	// Malformed INVITEs that the engine might still accept go to 49711218431435, whose notice
	// plays first: the test hangs them up before anything is dialed, so the good call's sipp
	// destination never sees them.
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, noticeOffPolicy(t)),
		"49711218431435": demoRoute(t, activePolicy(t, ModeAutomatic))}, trunk, nil)
	good := make(chan [2]error, 1)
	go func() {
		cerr, ferr := runCall(t, e, trunk, callSpec{from: "49711218431440", dialed: "49711218431431",
			callerCodec: "PCMU", calleeCodec: "PCMU", holdMS: 5000, ringMS: 100})
		good <- [2]error{cerr, ferr}
	}()
	waitRecording(t, e, "")
	live := e.liveCall(t, "")
	live.mu.Lock()
	rtpPorts := []int{live.legs[0].sock.Port(), live.legs[1].sock.Port()}
	live.mu.Unlock()

	// RTP garbage into both legs of the live call.
	junk, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	var rtpJunk [][]byte
	for i := 0; i < 200; i++ {
		b := make([]byte, mrand.IntN(300))
		_, _ = rand.Read(b)
		rtpJunk = append(rtpJunk, b)
	}
	pkt := rtpPacket(1, 160, 0x999, make([]byte, 160))
	for _, v := range []byte{0x00, 0x40, 0xc0} { // versions 0, 1, 3
		b := append([]byte(nil), pkt...)
		b[0] = v
		rtpJunk = append(rtpJunk, b)
	}
	for _, mod := range []func([]byte) []byte{
		func(b []byte) []byte { return b[:5] },                                                       // truncated header
		func(b []byte) []byte { b[0] |= 0x0f; return b[:20] },                                        // 15 CSRCs claimed
		func(b []byte) []byte { b[0] |= 0x10; return b[:16] },                                        // extension without its header
		func(b []byte) []byte { b[0] |= 0x10; b = append(b[:12], 0xbe, 0xde, 0xff, 0xff); return b }, // extension longer than the packet
		func(b []byte) []byte { b[0] |= 0x20; b[len(b)-1] = 255; return b },                          // padding longer than the payload
		func(b []byte) []byte { b[0] |= 0x20; b[len(b)-1] = 0; return b },                            // zero padding count
		func(b []byte) []byte { return append(b, make([]byte, 9000)...) },                            // oversized (jumbo) payload
		func(b []byte) []byte { b[1] = 101; return b[:14] },                                          // telephone-event shorter than its 4 bytes
		func(b []byte) []byte { b[1] = 101; return append(b[:12], 11, 0x80, 0, 0) },                  // key end without start
		func(b []byte) []byte { b[1] = 77; return b },                                                // a payload type nobody offered
		func(b []byte) []byte { b[1] = 0; return b[:12] },                                            // header only
		func(b []byte) []byte { b[1] = 200; return b },                                               // RTCP
	} {
		rtpJunk = append(rtpJunk, mod(append([]byte(nil), pkt...)))
	}
	for _, p := range rtpPorts {
		for _, b := range rtpJunk {
			_, _ = junk.WriteToUDP(b, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		}
	}

	// SIP garbage over UDP and TCP.
	sipAddr, _ := net.ResolveUDPAddr("udp", e.SIPAddr())
	for i := 0; i < 200; i++ {
		b := make([]byte, mrand.IntN(1400))
		_, _ = rand.Read(b)
		_, _ = junk.WriteToUDP(b, sipAddr)
	}
	_, _ = junk.WriteToUDP(bytes.Repeat([]byte("A"), 65000), sipAddr)
	_, _ = junk.WriteToUDP([]byte("INVITE sip:49711218431431@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;bra"), sipAddr)
	_, _ = junk.WriteToUDP([]byte("\r\n\r\n"), sipAddr) // keep-alive
	for _, msg := range []string{
		"GARBAGE\r\n\r\n",
		"INVITE sip:49711218431431@127.0.0.1 SIP/2.0\r\nContent-Length: 999999999\r\n\r\nv=0",
		strings.Repeat("X-Long: "+strings.Repeat("y", 1000)+"\r\n", 70),
	} {
		tc, err := net.Dial("tcp", e.SIPAddr())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = tc.Write([]byte(msg))
		_ = tc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, _ = bufio.NewReader(tc).ReadString('\n')
		tc.Close()
	}

	// Malformed requests where a reply is due.
	cases := []struct {
		name string
		msg  func(u *rawUA) string
		want []int // acceptable codes; nil: no reply may be due (then none is required)
	}{
		{"broken SDP", func(u *rawUA) string {
			return u.request("INVITE", "49711218431435", "", "v=0\r\nm=audio banana RTP/AVP\r\n")
		}, []int{488, 400}},
		{"no audio we share", func(u *rawUA) string {
			return u.request("INVITE", "49711218431435", "", strings.Replace(u.sdp(), "RTP/AVP 0 101", "RTP/AVP 18", 1))
		}, []int{488}},
		// A late offer is a valid call (RFC 3261 13.2.1): our offer in the 200, the answer due in the ACK.
		{"no SDP (late offer)", func(u *rawUA) string { return u.request("INVITE", "49711218431435", "", "") }, []int{200}},
		{"number in no pool", func(u *rawUA) string { return u.request("INVITE", "4930999", "", u.sdp()) }, []int{404}},
		{"unknown method", func(u *rawUA) string { return u.request("FROBNICATE", "49711218431435", "", "") }, []int{405, 501}},
		{"BYE outside a dialog", func(u *rawUA) string {
			u.toTag = "nosuchtag"
			return u.request("BYE", "49711218431435", "", "")
		}, []int{481}},
		{"INFO outside a dialog", func(u *rawUA) string {
			u.toTag = "nosuchtag"
			return u.request("INFO", "49711218431435", "", "")
		}, []int{481}},
		{"re-INVITE outside a dialog", func(u *rawUA) string {
			u.toTag = "nosuchtag"
			return u.request("INVITE", "49711218431435", "", u.sdp())
		}, []int{481}},
		{"bad CSeq", func(u *rawUA) string {
			return strings.Replace(u.request("INVITE", "49711218431435", "", u.sdp()), "CSeq: 1 INVITE", "CSeq: x INVITE", 1)
		}, []int{400, 0}},
		{"huge Content-Length", func(u *rawUA) string {
			m := u.request("INVITE", "49711218431435", "", u.sdp())
			return regexp.MustCompile(`Content-Length: \d+`).ReplaceAllString(m, "Content-Length: 99999999")
		}, []int{400, 0}},
		{"missing Call-ID", func(u *rawUA) string {
			return regexp.MustCompile(`Call-ID: [^\r]*\r\n`).ReplaceAllString(u.request("INVITE", "49711218431435", "", u.sdp()), "")
		}, []int{400, 0}},
		{"missing From", func(u *rawUA) string {
			return regexp.MustCompile(`From: [^\r]*\r\n`).ReplaceAllString(u.request("INVITE", "49711218431435", "", u.sdp()), "")
		}, []int{400, 0}},
		{"missing Via", func(u *rawUA) string {
			return regexp.MustCompile(`Via: [^\r]*\r\n`).ReplaceAllString(u.request("INVITE", "49711218431435", "", u.sdp()), "")
		}, []int{400, 0}}, // no Via: sipgo answers 400 to the source address, or nothing
		{"bad Request-URI", func(u *rawUA) string {
			return strings.Replace(u.request("INVITE", "49711218431435", "", u.sdp()), "INVITE sip:", "INVITE ::::", 1)
		}, []int{400, 404, 416, 0}}, // no number in it: 404 like any number in no pool
	}
	for _, tc := range cases {
		u := newRawUA(t, e.SIPAddr())
		defer u.close()
		u.send(tc.msg(u))
		code, res := u.final("", 2*time.Second)
		if code == 200 { // a valid call after all: hang it up
			u.established("49711218431435", res)
			u.bye("49711218431435")
		}
		ok := false
		for _, w := range tc.want {
			ok = ok || w == code
		}
		t.Logf("%s: %d", tc.name, code)
		if !ok {
			t.Errorf("%s: got %d, want one of %v\n%s", tc.name, code, tc.want, res)
		}
	}

	r := <-good
	if r[0] != nil || r[1] != nil {
		t.Fatalf("the good call broke: caller %v callee %v", r[0], r[1])
	}
	var c CallInfo
	for c.SIPCallID == "" || c.Recording == nil {
		c = e.sink.wait(t, 10*time.Second)
	}
	path := filepath.Join(e.data, filepath.FromSlash(c.Recording.Path))
	soxReads(t, path)
	ch, pcm := wavPCM(t, path)
	length := time.Duration(len(pcm)/ch) * time.Second / 8000
	if d := (length - c.Ended.Sub(c.Bridged)).Abs(); d > 40*time.Millisecond {
		t.Fatalf("good call's file %v, connected %v", length, c.Ended.Sub(c.Bridged))
	}
	for i := 0; i < 2; i++ {
		if rms, _ := channelStats(pcm, ch, i, 300*time.Millisecond, length-300*time.Millisecond); rms < 1000 {
			t.Fatalf("good call's channel %d rms %.0f", i, rms)
		}
	}
	if u := newRawUA(t, e.SIPAddr()); true {
		u.send(u.request("OPTIONS", "49711218431431", "", ""))
		if code, _ := u.final("OPTIONS", 3*time.Second); code != 200 {
			t.Fatalf("OPTIONS after the garbage: %d", code)
		}
	}
	drainEnded(e)
	noLeaks(t, e)
}

// drainEnded empties the sink's queue of ended calls (the garbage's short-lived calls).
func drainEnded(e *testEngine) {
	for {
		select {
		case <-e.sink.ended:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// settle waits until the goroutine count is back at base (sipgo's transactions end on their
// timers) and reports the count.
func settle(base int, d time.Duration) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(d); n > base && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(100 * time.Millisecond)
	}
	return n
}

// TestEarlyEndsLeakNothing: the caller hangs up during the announcement, CANCELs before the
// destination answers, the destination never answers, and BYEs race (caller's BYE as the
// bridge happens, twice, and together with a CANCEL). Afterwards no goroutine, file
// descriptor, RTP port, SIP leg or clock entry is left over.
func TestEarlyEndsLeakNothing(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	withNotice := activePolicy(t, ModeAutomatic)
	e := startEngine(t, memDir{
		"49711218431431": demoRoute(t, withNotice),         // notice, then dial
		"49711218431432": demoRoute(t, noticeOffPolicy(t)), // dial at once
		"49711218431433": demoRoute(t, Policy{}),           // plain B2BUA: ringing reaches the caller
	}, trunk, func(c *Config) { c.RingTimeout = 1500 * time.Millisecond })
	// The destination rings 2.5 s before it answers: CANCEL and ring timeout fall into that.
	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "2500"},
		"-p", strconv.Itoa(trunk), "-m", "100")
	time.Sleep(300 * time.Millisecond)
	// Warm up: one complete call, so lazily started goroutines (sipgo's, the clock) exist.
	{
		u := newRawUA(t, e.SIPAddr())
		u.send(u.request("INVITE", "49711218431433", "", u.sdp()))
		if code, res := u.final("INVITE", 10*time.Second); code == 200 { // rings past RingTimeout: 480
			u.established("49711218431433", res)
			u.bye("49711218431433")
		}
		u.close()
		e.sink.wait(t, 10*time.Second)
	}
	noLeaks(t, e)
	time.Sleep(time.Second)
	baseG, baseFD := settle(0, 0), openFDs()

	var wg sync.WaitGroup
	run := func(name string, f func(u *rawUA)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := newRawUA(t, e.SIPAddr())
			defer u.close()
			f(u)
		}()
	}
	run("hang up during the notice", func(u *rawUA) {
		if code := u.call("49711218431431"); code != 200 {
			t.Errorf("notice call: %d", code)
			return
		}
		time.Sleep(300 * time.Millisecond)
		if code := u.bye("49711218431431"); code != 200 {
			t.Errorf("BYE during the notice: %d", code)
		}
	})
	run("CANCEL before answer", func(u *rawUA) {
		u.send(u.request("INVITE", "49711218431433", "", u.sdp()))
		time.Sleep(700 * time.Millisecond)
		u.send(u.request("CANCEL", "49711218431433", "", ""))
		code, res := u.final("INVITE", 10*time.Second)
		if code == 200 { // lost the race against the answer: hang up
			u.established("49711218431433", res)
			u.bye("49711218431433")
		} else if code != 487 {
			t.Errorf("CANCEL: INVITE ended %d, want 487", code)
		}
	})
	run("destination never answers", func(u *rawUA) {
		if code := u.call("49711218431433"); code != 480 {
			t.Errorf("no answer: %d, want 480", code)
		}
	})
	run("BYE while dialing, twice", func(u *rawUA) {
		if code := u.call("49711218431432"); code != 200 {
			t.Errorf("dialing call: %d", code)
			return
		}
		bye := u.request("BYE", "49711218431432", "", "")
		u.send(bye)
		u.send(bye) // a retransmission racing the first
		if code, _ := u.final("BYE", 10*time.Second); code != 200 {
			t.Errorf("BYE while dialing: %d", code)
		}
	})
	run("BYE as the bridge happens", func(u *rawUA) {
		if code := u.call("49711218431432"); code != 200 {
			t.Errorf("bridging call: %d", code)
			return
		}
		// The destination answers after 2.5 s and the whisper lasts ~0.4 s: BYE right then.
		time.Sleep(2900 * time.Millisecond)
		u.bye("49711218431432")
	})
	run("CANCEL and BYE together", func(u *rawUA) {
		u.send(u.request("INVITE", "49711218431433", "", u.sdp()))
		time.Sleep(300 * time.Millisecond)
		u.send(u.request("CANCEL", "49711218431433", "", ""))
		u.send(u.request("BYE", "49711218431433", "", ""))
		if code, _ := u.final("INVITE", 10*time.Second); code != 487 && code != 200 {
			t.Errorf("CANCEL+BYE: INVITE ended %d; got %q", code, u.seen)
		}
	})
	wg.Wait()
	for i := 0; i < 6; i++ {
		c := e.sink.wait(t, 15*time.Second)
		t.Logf("call to %s: outcome %s", c.B, c.Outcome)
	}
	noLeaks(t, e)
	// Transactions end on their timers (a few seconds after the last message); then the
	// goroutine count must be back at the baseline.
	g := settle(baseG, 40*time.Second)
	fds := openFDs()
	if g > baseG {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines %d, baseline %d\n%s", g, baseG, buf[:runtime.Stack(buf, true)])
	}
	if fds > baseFD {
		t.Fatalf("open files %d, baseline %d", fds, baseFD)
	}
	_ = callee
}
