package media

// Building blocks of the interop scenarios: sipp as a carrier's trunk, an SBC or a PBX, with
// the messages written out so each test shows what the peer sends.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sdpBody is an SDP of sipp's audio with a direction (and extra a= lines).
func sdpBody(dir string, extra ...string) string { return sdpBodyV(1, dir, extra...) }

// sdpBodyV is sdpBody with the o= line's version (a changed session has a higher one).
func sdpBodyV(version int, dir string, extra ...string) string {
	b := "v=0\r\no=user1 53655765 " + strconv.Itoa(version) + " IN IP[local_ip_type] [local_ip]\r\ns=-\r\nc=IN IP[media_ip_type] [media_ip]\r\n" +
		"t=0 0\r\nm=audio [rtpstream_audio_port] RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
		"a=fmtp:101 0-16\r\na=" + dir + "\r\n"
	for _, e := range extra {
		b += e + "\r\n"
	}
	return b
}

// message is a sipp <send> with its headers and body; len and the last_ fields are sipp's.
func send(lines string, body string, retrans bool) string {
	attr := ""
	if retrans {
		attr = ` retrans="500"`
	}
	msg := strings.TrimSpace(lines) + "\n"
	if body != "" {
		msg += "Content-Type: application/sdp\nContent-Length: [len]\n\n" + body
	} else {
		msg += "Content-Length: 0\n\n"
	}
	return "<send" + attr + "><![CDATA[\n" + msg + "]]></send>\n"
}

// reply answers the last request received with code.
func reply(code int, reason, headers, body string) string {
	return send(fmt.Sprintf(`SIP/2.0 %d %s
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
%s`, code, reason, headers), body, code >= 200 && strings.Contains(headers, "retrans:"))
}

// replyKeepTag answers an in-dialog request (its To already has our tag).
func replyInDialog(code int, reason, headers, body string) string {
	return send(fmt.Sprintf(`SIP/2.0 %d %s
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
%s`, code, reason, headers), body, false)
}

// callerInvite is the caller's INVITE (CSeq n) with headers and body (empty: a late offer).
func callerInvite(n int, headers, body string) string {
	return send(fmt.Sprintf(`INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: {{FROM_HDR}};tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: %d INVITE
Contact: <sip:caller@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
%s`, n, headers), body, true)
}

// callerAck acknowledges the 2xx of CSeq n (in the dialog: the engine's To tag).
func callerAck(n int, body string) string {
	return send(fmt.Sprintf(`ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: {{FROM_HDR}};tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
[routes]
Call-ID: [call_id]
CSeq: %d ACK
Max-Forwards: 70`, n), body, false)
}

// callerAckFailure acknowledges a final failure of CSeq n: same Request-URI and branch as the
// INVITE, the engine's To tag (RFC 3261 17.1.1.3).
func callerAckFailure(n int) string {
	return send(fmt.Sprintf(`ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-5]
From: {{FROM_HDR}};tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: %d ACK
Max-Forwards: 70`, n), "", false)
}

// callerRequest is an in-dialog request of the caller (BYE, re-INVITE, UPDATE) with CSeq n.
func callerRequest(method string, n int, headers, body string) string {
	return send(fmt.Sprintf(`%s [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: {{FROM_HDR}};tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
[routes]
Call-ID: [call_id]
CSeq: %d %s
Contact: <sip:caller@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
%s`, method, n, method, headers), body, true)
}

const (
	rtpStart = `<nop><action><exec rtp_stream="{{AUDIO}},-1,0"/></action></nop>` + "\n"
	recv100  = `<recv response="100" optional="true"/>` + "\n"
	recv18x  = `<recv response="180" optional="true"/><recv response="183" optional="true"/>` + "\n"
)

func pause(ms int) string { return fmt.Sprintf(`<pause milliseconds="%d"/>`+"\n", ms) }

// script runs a scenario body with sipp; fields fill {{AUDIO}} and {{FROM_HDR}} by default.
func script(t *testing.T, body string, fields map[string]string, args ...string) *sipp {
	t.Helper()
	f := map[string]string{"BODY": body}
	for k, v := range fields {
		f[k] = v
	}
	x := f["BODY"]
	if _, ok := f["AUDIO"]; !ok && strings.Contains(x, "{{AUDIO}}") {
		f["AUDIO"] = testdata(t, "caller_440.ulaw")
	}
	if _, ok := f["FROM_HDR"]; !ok {
		f["FROM_HDR"] = "<sip:49711218431440@[local_ip]:[local_port]>"
	}
	// Fields inside the body are filled before the body goes in.
	for k, v := range f {
		if k != "BODY" {
			x = strings.ReplaceAll(x, "{{"+k+"}}", v)
		}
	}
	if os.Getenv("CALLREC_SIPP_TRACE") != "" {
		args = append(args, "-trace_msg")
	}
	return startSipp(t, "sipp_script.xml", map[string]string{"BODY": x}, args...)
}

// calleeScript starts sipp as the destination on the trunk port.
func calleeScript(t *testing.T, trunk int, body string, args ...string) *sipp {
	t.Helper()
	s := script(t, body, map[string]string{"AUDIO": testdata(t, "callee_1000.ulaw")}, append([]string{"-p", strconv.Itoa(trunk)}, args...)...)
	time.Sleep(200 * time.Millisecond) // bound before the INVITE comes
	return s
}

// callerScript starts sipp as the caller towards the engine.
func callerScript(t *testing.T, e *testEngine, body string, fields map[string]string, args ...string) *sipp {
	t.Helper()
	return script(t, body, fields, append([]string{"-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", e.SIPAddr()}, args...)...)
}

// plainCallee is a destination that answers at once with sdp and waits for the BYE.
func plainCallee(answerHeaders string) string {
	return `<recv request="INVITE" crlf="true"/>` + "\n" +
		reply(180, "Ringing", "", "") +
		reply(200, "OK", answerHeaders, sdpBody("sendrecv")) +
		`<recv request="ACK" crlf="true"/>` + "\n" + rtpStart +
		`<recv request="BYE"/>` + "\n" + replyInDialog(200, "OK", "", "") + pause(300)
}

// plainCaller calls, plays its tone, hangs up after ms with CSeq bye.
func plainCaller(inviteHeaders string, ms, bye int) string {
	return callerInvite(1, inviteHeaders, sdpBody("sendrecv")) + recv100 + recv18x +
		`<recv response="200" rtd="true" rrs="true"/>` + "\n" + callerAck(1, "") + rtpStart + pause(ms) +
		callerRequest("BYE", bye, "", "") + `<recv response="200" crlf="true"/>` + "\n"
}

// recording reads the call's file: channels, samples and length.
func recording(t *testing.T, e *testEngine, c CallInfo) (int, []int16, time.Duration) {
	t.Helper()
	if c.Recording == nil {
		t.Fatalf("no recording: outcome %q events %+v", c.Outcome, c.Events)
	}
	ch, pcm := wavPCM(t, e.data+"/"+c.Recording.Path)
	return ch, pcm, time.Duration(len(pcm)/ch) * time.Second / 8000
}

// bothVoices checks a stereo recording has the caller's tone left and the callee's right
// between from and to, and that its length is the connected time.
func bothVoices(t *testing.T, e *testEngine, c CallInfo, from, to time.Duration) {
	t.Helper()
	ch, pcm, length := recording(t, e, c)
	if d := length - c.Ended.Sub(c.Bridged); d < -60*time.Millisecond || d > 60*time.Millisecond {
		t.Errorf("file %v, connected %v", length, c.Ended.Sub(c.Bridged))
	}
	if to <= 0 {
		to = length + to
	}
	l, _ := channelStats(pcm, ch, 0, from, to)
	r, _ := channelStats(pcm, ch, 1, from, to)
	t.Logf("file %v: caller rms %.0f, callee rms %.0f (%v..%v)", length, l, r, from, to)
	if ch != 2 || l < 1000 || r < 1000 {
		t.Errorf("want both voices: %d channels, caller rms %.0f, callee rms %.0f", ch, l, r)
	}
}

func eventOf(c CallInfo, kind EventKind) (Event, bool) {
	for _, e := range c.Events {
		if e.Kind == kind {
			return e, true
		}
	}
	return Event{}, false
}

// recordedRoute is the demo pool recording automatically without the caller notice.
func recordedRoute(t *testing.T) memDir {
	pol := activePolicy(t, ModeAutomatic)
	pol.CallerNotice = false
	pol.Prompts.CalleeWhisper = ""
	return memDir{"49711218431431": demoRoute(t, pol)}
}

func waitBoth(t *testing.T, caller, callee *sipp) {
	t.Helper()
	cerr := caller.wait(t, 60*time.Second)
	ferr := callee.wait(t, 30*time.Second)
	if os.Getenv("CALLREC_SIPP_TRACE") != "" {
		t.Logf("caller's messages:\n%s\ncallee's messages:\n%s", caller.Messages(), callee.Messages())
	}
	if cerr != nil || ferr != nil {
		t.Fatalf("caller: %v\n%s\ncallee: %v\n%s", cerr, caller.Output(), ferr, callee.Output())
	}
}
