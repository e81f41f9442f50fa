package media

// Fault tests of the load issue: hostile RTP on a live call, garbage and malformed SIP, calls
// that end early in every way (checked for leaked goroutines, sockets and ports), and a full
// disk. They use a raw SIP caller (rawUA) so the test controls every byte and every packet.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callrec/internal/testtool"
	"callrec/media/audio"
	"callrec/media/recorder"
)

// rawUA is a SIP caller over UDP that writes its messages by hand.
type rawUA struct {
	t      *testing.T
	conn   *net.UDPConn
	engine *net.UDPAddr
	rtp    *net.UDPConn // our media socket, named in the SDP

	callID, tag, toTag string
	inviteBranch       string
	lastInvite         string
	cseq               int
	engineRTP          *net.UDPAddr
	seen               []string // first lines and CSeqs of what came in, for failure messages
}

func newRawUA(t *testing.T, engineAddr string) *rawUA {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	media, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ea, err := net.ResolveUDPAddr("udp", engineAddr)
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUA{t: t, conn: conn, engine: ea, rtp: media, callID: randomID() + "@faults", tag: randomID()[:10]}
	t.Cleanup(func() { conn.Close(); media.Close() })
	return u
}

// close gives the sockets back at once (the leak test counts file descriptors).
func (u *rawUA) close() { u.conn.Close(); u.rtp.Close() }

func (u *rawUA) port() int    { return u.conn.LocalAddr().(*net.UDPAddr).Port }
func (u *rawUA) rtpPort() int { return u.rtp.LocalAddr().(*net.UDPAddr).Port }

func (u *rawUA) send(msg string) {
	u.t.Helper()
	if _, err := u.conn.WriteToUDP([]byte(msg), u.engine); err != nil {
		u.t.Fatal(err)
	}
}

// recv reads the next SIP message (a response or a request from the engine), or "".
func (u *rawUA) recv(d time.Duration) string {
	buf := make([]byte, 65536)
	_ = u.conn.SetReadDeadline(time.Now().Add(d))
	n, _, err := u.conn.ReadFromUDP(buf)
	if err != nil {
		return ""
	}
	m := string(buf[:n])
	first, _, _ := strings.Cut(m, "\r\n")
	u.seen = append(u.seen, first+" ("+header(m, "CSeq")+")")
	return m
}

// final waits for a final response to method, answering requests the engine sends meanwhile
// (a BYE gets 200). It returns the status code (0 on timeout) and the message.
func (u *rawUA) final(method string, d time.Duration) (int, string) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		m := u.recv(time.Until(deadline))
		if m == "" {
			break
		}
		if !strings.HasPrefix(m, "SIP/2.0 ") {
			u.answer(m, 200, "OK")
			continue
		}
		code, _ := strconv.Atoi(m[8:11])
		if code < 200 || !strings.Contains(header(m, "CSeq"), method) {
			continue
		}
		if strings.HasSuffix(header(m, "CSeq"), "INVITE") && code >= 300 && u.lastInvite != "" {
			// A failed INVITE is ACKed in its own transaction (same branch, the reply's To tag).
			if _, tag, ok := strings.Cut(header(m, "To"), ";tag="); ok {
				u.toTag, _, _ = strings.Cut(tag, ";")
			}
			ack := u.request("ACK", "x", "", "")
			ack = regexp.MustCompile(`branch=[^;\r]*`).ReplaceAllString(ack, "branch="+u.inviteBranch)
			ack = regexp.MustCompile(`(?m)^ACK sip:[^ ]*`).ReplaceAllString(ack, "ACK "+strings.Fields(u.lastInvite)[1])
			ack = regexp.MustCompile(`(?m)^To: <[^>]*>`).ReplaceAllString(ack, "To: "+strings.Split(header(u.lastInvite, "To"), ";")[0])
			u.send(ack)
		}
		return code, m
	}
	return 0, ""
}

// answer replies to a request the engine sent us (BYE, re-INVITE).
func (u *rawUA) answer(req string, code int, reason string) {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, h := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		fmt.Fprintf(&b, "%s: %s\r\n", h, header(req, h))
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	u.send(b.String())
}

// header is the first value of a header in a SIP message (long names only).
func header(msg, name string) string {
	for _, line := range strings.Split(msg, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
		if line == "" {
			break
		}
	}
	return ""
}

func (u *rawUA) sdp() string {
	return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n", u.rtpPort())
}

// request builds a request of this UA's dialog; extra headers go before Content-Length.
func (u *rawUA) request(method, dialed, extra, body string) string {
	if method != "ACK" && method != "CANCEL" {
		u.cseq++
	}
	to := fmt.Sprintf("<sip:%s@%s>", dialed, u.engine)
	if u.toTag != "" && method != "CANCEL" {
		to += ";tag=" + u.toTag
	}
	branch := "z9hG4bK" + randomID()[:12]
	if method == "CANCEL" {
		branch = u.inviteBranch
	}
	if method == "INVITE" && u.toTag == "" {
		u.inviteBranch = branch
	}
	ct := ""
	if body != "" {
		ct = "Content-Type: application/sdp\r\n"
	}
	msg := fmt.Sprintf("%s sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:49711218431440@127.0.0.1:%d>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"+
		"Contact: <sip:49711218431440@127.0.0.1:%d>\r\n%s%sContent-Length: %d\r\n\r\n%s",
		method, dialed, u.engine, u.port(), branch, u.port(), u.tag, to, u.callID, u.cseq, method,
		u.port(), extra, ct, len(body), body)
	if method == "INVITE" && u.toTag == "" {
		u.lastInvite = msg
	}
	return msg
}

var mediaPort = regexp.MustCompile(`m=audio (\d+) `)

// call sends an INVITE and, on 200, the ACK; it returns the final status.
func (u *rawUA) call(dialed string) int {
	u.t.Helper()
	u.send(u.request("INVITE", dialed, "", u.sdp()))
	code, res := u.final("INVITE", 20*time.Second)
	if code == 200 {
		u.established(dialed, res)
	}
	return code
}

func (u *rawUA) established(dialed, res string) {
	u.t.Helper()
	if _, tag, ok := strings.Cut(header(res, "To"), ";tag="); ok {
		u.toTag, _, _ = strings.Cut(tag, ";")
	}
	m := mediaPort.FindStringSubmatch(res)
	if m == nil {
		u.t.Fatalf("200 without media port:\n%s", res)
	}
	port, _ := strconv.Atoi(m[1])
	u.engineRTP = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	u.send(u.request("ACK", dialed, "", ""))
}

func (u *rawUA) bye(dialed string) int {
	u.send(u.request("BYE", dialed, "", ""))
	code, _ := u.final("BYE", 10*time.Second)
	return code
}

// rtpPacket is one RTP packet of PCMU.
func rtpPacket(seq uint16, ts, ssrc uint32, payload []byte) []byte {
	b := make([]byte, 12+len(payload))
	b[0], b[1] = 0x80, 0
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	copy(b[12:], payload)
	return b
}

// toneFrames is n 20 ms frames of a 440 Hz tone in PCMU.
func toneFrames(n int) [][]byte {
	pcm := make([]int16, 160*n)
	for i := range pcm {
		pcm[i] = int16(8000 * sinApprox(float64(i)*440/8000))
	}
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = make([]byte, 160)
		audio.ULawEncode(frames[i], pcm[160*i:160*(i+1)])
	}
	return frames
}

// sinApprox is sin(2*pi*x) without importing math for one call site.
func sinApprox(x float64) float64 {
	x -= float64(int(x))
	if x < 0.5 {
		return 16 * x * (0.5 - x)
	}
	x -= 0.5
	return -16 * x * (0.5 - x)
}

// liveCall is the engine's call with the given SIP Call-ID (white-box: the test reaches the
// call's RTP ports).
func (e *testEngine) liveCall(t *testing.T, sipCallID string) *call {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		e.mu.Lock()
		for _, c := range e.calls {
			if sipCallID == "" || c.info.SIPCallID == sipCallID {
				e.mu.Unlock()
				return c
			}
		}
		e.mu.Unlock()
	}
	t.Fatalf("no live call %q", sipCallID)
	return nil
}

func waitRecording(t *testing.T, e *testEngine, sipCallID string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, c := range e.Calls() {
			if (sipCallID == "" || c.SIPCallID == sipCallID) && c.Rec == RecRecording {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the call never started recording")
		}
	}
}

func noticeOffPolicy(t *testing.T) Policy {
	pol := activePolicy(t, ModeAutomatic)
	pol.CallerNotice = false
	return pol
}

// TestRTPChaos: the caller's RTP arrives with 5% loss, reordering, duplicates, up to 60 ms
// jitter, an SSRC change and a timestamp jump. The file is exactly as long as the connected
// call, the caller's channel holds audio wherever audio arrived, and the engine survives.
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

// TestDiskFullKeepsCalls: recordings go to a 96 KiB tmpfs that two stereo calls fill within a
// second. Both calls go on to their end with audio flowing, their recordings are marked failed
// with the reason, the files that exist stay readable, and the engine takes the next call.
func TestDiskFullKeepsCalls(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", dir).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot mount a small tmpfs (needs root): %v %s", err, out)
		if testtool.E2E() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, noticeOffPolicy(t))}, trunk, func(c *Config) {
		c.DataDir = dir
	})
	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"},
		"-p", strconv.Itoa(trunk), "-m", "3")
	time.Sleep(200 * time.Millisecond)
	caller := startSipp(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "4000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", "-m", "2", "-l", "2", e.SIPAddr())
	if err := caller.wait(t, 30*time.Second); err != nil {
		t.Fatalf("a call broke on the full disk: %v", err)
	}
	for i := 0; i < 2; i++ {
		c := e.sink.wait(t, 10*time.Second)
		if c.Outcome != OutcomeCompleted || c.Rec != RecFailed || c.Recording == nil ||
			!strings.Contains(c.Recording.Failed, "no space left") || !hasEvent(c, EventRecordingFailed) {
			t.Fatalf("outcome %q rec %q recording %+v", c.Outcome, c.Rec, c.Recording)
		}
		if c.PacketsOut[0] < 100 || c.PacketsOut[1] < 100 {
			t.Fatalf("media stopped with the disk: %v", c.PacketsOut)
		}
		if c.Recording.Path != "" {
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(c.Recording.Path))); err == nil {
				if _, err := recorder.Repair(mustRoot(t, dir), c.Recording.Path); err != nil {
					t.Errorf("file on the full disk unreadable: %v", err)
				}
			}
		}
		t.Logf("call %d: %s", i, c.Recording.Failed)
	}
	// Nothing else broke: the next call is answered and carried (its recording fails too).
	u := newRawUA(t, e.SIPAddr())
	if code := u.call("49711218431431"); code != 200 {
		t.Fatalf("next call: %d", code)
	}
	time.Sleep(time.Second)
	if code := u.bye("49711218431431"); code != 200 {
		t.Fatalf("next call's BYE: %d", code)
	}
	if c := e.sink.wait(t, 10*time.Second); c.Outcome != OutcomeCompleted {
		t.Fatalf("next call: %q", c.Outcome)
	}
	if err := callee.wait(t, 10*time.Second); err != nil {
		t.Errorf("sipp callee: %v", err)
	}
	noLeaks(t, e)
}

func mustRoot(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
