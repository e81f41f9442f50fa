package media

// rawUA: a SIP caller written by hand, so a test controls every byte and every packet, and the
// helpers the fault tests share.

import (
	"encoding/binary"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/media/audio"
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
