package media

// More interop cases with sipp as the peer (building blocks in interop_sipp_test.go): our own
// session refreshes, a callee's 422, hold by UPDATE, by a=inactive and by c=0.0.0.0, and a
// trunk whose answer cannot be used.

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// TestWeRefreshBothLegs: the engine is the refresher on both legs of a 2 s session interval
// (the caller asked refresher=uas, the destination's 200 says refresher=uac) and keeps both
// sessions alive: re-INVITEs to the caller, which allows no UPDATE, and UPDATEs to the
// destination, which does, each within 1.9 s of the last (sipp fails the call otherwise),
// carrying Session-Expires with refresher=uac. The call outlives its interval twice and
// nothing expires.
func TestWeRefreshBothLegs(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, func(c *Config) { c.MinSE, c.SessionExpires = time.Second, 2*time.Second })
	callee := calleeScript(t, trunk, refreshedCallee())
	caller := callerScript(t, e, refreshedCaller(), nil)
	waitBoth(t, caller, callee)
	checkRefreshed(t, e)
}

// refreshIn receives our refresh (method) within 1.9 s, naming us the refresher.
func refreshIn(method, id string) string {
	return `<recv request="` + method + `" timeout="1900"><action>
  <ereg regexp="2;refresher=uac" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="` + id + `"/>
</action></recv><Reference variables="` + id + `"/>` + "\n"
}

// refreshedCallee allows UPDATE, makes us the refresher of a 2 s interval and takes two
// refreshes.
func refreshedCallee() string {
	return `<recv request="INVITE" crlf="true"/>` + "\n" +
		reply(200, "OK", "Allow: INVITE, ACK, BYE, CANCEL, UPDATE\nSupported: timer\nRequire: timer\nSession-Expires: 2;refresher=uac", sdpBody("sendrecv")) +
		`<recv request="ACK" crlf="true"/>` + "\n" + rtpStart +
		refreshIn("UPDATE", "u1") + replyInDialog(200, "OK", "Require: timer\nSession-Expires: 2;refresher=uac", "") +
		refreshIn("UPDATE", "u2") + replyInDialog(200, "OK", "Require: timer\nSession-Expires: 2;refresher=uac", "") +
		`<recv request="BYE"/>` + "\n" + replyInDialog(200, "OK", "", "") + pause(300)
}

// refreshedCaller asks us to refresh its 2 s interval (allowing no UPDATE) and takes two
// refreshing re-INVITEs before it hangs up.
func refreshedCaller() string {
	return callerInvite(1, "Supported: timer\nSession-Expires: 2;refresher=uas\nMin-SE: 1", sdpBody("sendrecv")) +
		recv100 + recv18x + `<recv response="200" rtd="true" rrs="true"><action>
  <ereg regexp="2;refresher=uas" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="se"/>
</action></recv><Reference variables="se"/>` + "\n" + callerAck(1, "") + rtpStart +
		refreshIn("INVITE", "r1") + replyInDialog(200, "OK", "Require: timer\nSession-Expires: 2;refresher=uac", sdpBody("sendrecv")) + `<recv request="ACK"/>` + "\n" +
		refreshIn("INVITE", "r2") + replyInDialog(200, "OK", "Require: timer\nSession-Expires: 2;refresher=uac", sdpBody("sendrecv")) + `<recv request="ACK"/>` + "\n" +
		pause(500) + callerRequest("BYE", 2, "", "") + `<recv response="200" crlf="true"/>` + "\n"
}

func checkRefreshed(t *testing.T, e *testEngine) {
	t.Helper()
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted || hasEvent(c, EventSessionExpired) {
		t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
	}
	if d := c.Ended.Sub(c.Bridged); d < 2500*time.Millisecond {
		t.Fatalf("call lasted %v: not past its 2 s interval", d)
	}
	bothVoices(t, e, c, 500*time.Millisecond, -300*time.Millisecond)
}

// TestCalleeIntervalTooSmallIsRetried: the destination refuses our 2 s session interval with
// 422 and Min-SE: 90; the engine ACKs it and sends the INVITE again (the next CSeq) with
// Session-Expires and Min-SE of 90 (RFC 4028 6), which is answered; the call is recorded.
func TestCalleeIntervalTooSmallIsRetried(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, func(c *Config) { c.MinSE, c.SessionExpires = time.Second, 2*time.Second })
	callee := calleeScript(t, trunk, `<recv request="INVITE" crlf="true"/>`+"\n"+
		reply(422, "Session Interval Too Small", "Min-SE: 90", "")+`<recv request="ACK"/>`+"\n"+
		`<recv request="INVITE" crlf="true"><action>
  <ereg regexp="^ *90" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="se"/>
  <ereg regexp="^ *90" search_in="hdr" header="Min-SE:" check_it="true" assign_to="min"/>
</action></recv><Reference variables="se,min"/>`+"\n"+
		reply(200, "OK", "", sdpBody("sendrecv"))+`<recv request="ACK" crlf="true"/>`+"\n"+rtpStart+
		`<recv request="BYE"/>`+"\n"+replyInDialog(200, "OK", "", "")+pause(300), "-trace_msg")
	caller := callerScript(t, e, plainCaller("", 2000, 2), nil)
	waitBoth(t, caller, callee)
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
	}
	bothVoices(t, e, c, 500*time.Millisecond, -300*time.Millisecond)
	var seqs []int
	for _, m := range regexp.MustCompile(`(?m)^CSeq: (\d+) INVITE`).FindAllStringSubmatch(callee.Messages(), -1) {
		n, _ := strconv.Atoi(m[1])
		if len(seqs) == 0 || seqs[len(seqs)-1] != n {
			seqs = append(seqs, n)
		}
	}
	if len(seqs) != 2 || seqs[1] != seqs[0]+1 {
		t.Fatalf("INVITE CSeqs %v: want the retry with the next number", seqs)
	}
}

// TestHoldByUpdate: the caller holds and resumes with UPDATE (RFC 3311) instead of
// re-INVITE; the engine answers, relays both to the destination, notes them in the trail,
// and the destination is silent in the recording while held.
func TestHoldByUpdate(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, nil)
	callee := calleeScript(t, trunk, holdCallee("a=sendonly"))
	caller := callerScript(t, e, holdCallerBy("UPDATE", sdpBodyV(2, "sendonly")), nil)
	waitBoth(t, caller, callee)
	checkHold(t, e, e.sink.wait(t, 10*time.Second))
}

// TestHoldInactiveAndZeroAddress: the caller holds with a=inactive, or the RFC 2543 way with
// c=0.0.0.0; the destination is told a=inactive, the trail notes the hold and the resume, and
// both directions are silent in the recording while held (the caller sends nothing either:
// what sipp still sends is dropped), the timeline kept.
func TestHoldInactiveAndZeroAddress(t *testing.T) {
	testtool.Short(t)
	for name, held := range map[string]string{
		"inactive": sdpBodyV(2, "inactive"),
		"0.0.0.0":  strings.Replace(sdpBodyV(2, "sendrecv"), "c=IN IP[media_ip_type] [media_ip]", "c=IN IP4 0.0.0.0", 1),
	} {
		t.Run(name, func(t *testing.T) {
			trunk := freePort(t)
			e := startEngine(t, recordedRoute(t), trunk, nil)
			callee := calleeScript(t, trunk, holdCalleeAnswering("a=inactive", "inactive"))
			caller := callerScript(t, e, holdCaller(held), nil)
			waitBoth(t, caller, callee)
			c := e.sink.wait(t, 10*time.Second)
			if ev, ok := eventOf(c, EventHeld); !ok || ev.Detail != "inactive" {
				t.Fatalf("trail %+v: want the hold noted as inactive", c.Events)
			}
			checkHoldBoth(t, e, c, true)
		})
	}
}

// TestTrunkAnswerUnusable: the destination answers 200 with an SDP we cannot use (no codec in
// common: G.729 only), or after a datagram of garbage with a body that is not SDP at all. The
// engine ACKs and hangs the destination up, the caller (still ringing: the pool does not
// record, so nothing answered it) gets 488, the trail says why, and no dialog is left.
func TestTrunkAnswerUnusable(t *testing.T) {
	testtool.Short(t)
	g729 := "v=0\r\no=carrier 1 1 IN IP4 [local_ip]\r\ns=-\r\nc=IN IP4 [media_ip]\r\nt=0 0\r\nm=audio [media_port] RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
	for name, answer := range map[string]string{
		"no common codec": reply(200, "OK", "", g729),
		"garbage": "<send><![CDATA[\n%%%% garbage, not SIP at all %%%%\n]]></send>\n" +
			reply(200, "OK", "", "this is not SDP\r\n"),
	} {
		t.Run(name, func(t *testing.T) {
			trunk := freePort(t)
			pol := activePolicy(t, ModeAutomatic)
			pol.Active = false
			e := startEngine(t, memDir{"49711218431431": demoRoute(t, pol)}, trunk, nil)
			callee := calleeScript(t, trunk, `<recv request="INVITE" crlf="true"/>`+"\n"+answer+
				`<recv request="ACK"/>`+"\n"+`<recv request="BYE"/>`+"\n"+replyInDialog(200, "OK", "", "")+pause(200))
			caller := callerScript(t, e, callerInvite(1, "", sdpBody("sendrecv"))+recv100+recv18x+
				`<recv response="488"/>`+"\n"+callerAckFailure(1), nil)
			waitBoth(t, caller, callee)
			c := e.sink.wait(t, 10*time.Second)
			ev, ok := eventOf(c, EventSignallingError)
			t.Logf("outcome %q, trail: %+v", c.Outcome, ev)
			if c.Outcome != OutcomeFailed || !ok || !strings.Contains(ev.Detail, "answer is unusable") {
				t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
			}
			if e.ua.Legs() != 0 {
				t.Fatalf("%d dialogs left", e.ua.Legs())
			}
		})
	}
}

// TestTrunkChallengesReinvite: the destination challenges the re-INVITE that relays the
// caller's hold with 401; the engine answers with its credentials in a new re-INVITE (the
// next CSeq), which sipp's verifyauth checks (MD5), and the hold goes through: trail and
// recording as for any hold.
func TestTrunkChallengesReinvite(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, func(c *Config) { c.TrunkUser, c.TrunkPassword = "trunkuser", "s3cret!" })
	callee := calleeScript(t, trunk, `<recv request="INVITE" crlf="true"/>`+"\n"+
		reply(200, "OK", "", sdpBody("sendrecv"))+`<recv request="ACK" crlf="true"/>`+"\n"+rtpStart+
		`<recv request="INVITE"/>`+"\n"+
		replyInDialog(401, "Unauthorized", `WWW-Authenticate: Digest realm="carrier.example", nonce="[pid]re1nv1te", algorithm=MD5`, "")+
		`<recv request="ACK"/>`+"\n"+
		`<recv request="INVITE"><action>
  <ereg regexp="a=sendonly" search_in="body" check_it="true" assign_to="held"/>
  <verifyauth assign_to="authok" username="trunkuser" password="s3cret!"/>
</action></recv><Reference variables="held"/>`+"\n"+
		`<nop test="authok" next="auth_ok"/>`+"\n"+replyInDialog(403, "Forbidden", "", "")+`<recv request="ACK"/><label id="auth_ok"/>`+"\n"+
		replyInDialog(200, "OK", "", sdpBody("recvonly"))+`<recv request="ACK"/>`+"\n"+
		`<recv request="INVITE"/>`+"\n"+replyInDialog(200, "OK", "", sdpBody("sendrecv"))+`<recv request="ACK"/>`+"\n"+
		`<recv request="BYE"/>`+"\n"+replyInDialog(200, "OK", "", "")+pause(300))
	caller := callerScript(t, e, holdCaller(sdpBodyV(2, "sendonly")), nil)
	waitBoth(t, caller, callee)
	c := e.sink.wait(t, 10*time.Second)
	if strings.Contains(callee.Output(), "403 Forbidden") || hasEvent(c, EventSignallingError) {
		t.Fatalf("the re-INVITE's digest did not verify: events %+v", c.Events)
	}
	checkHold(t, e, c)
}

// TestReliableEarlyMediaRelayed: for a pool that does not record (the caller is not answered before
// the destination), the destination's reliable 183 with SDP is PRACKed and relayed to the
// caller as 183 with our SDP, and the destination's early audio reaches the caller's media
// address before the destination answers.
func TestReliableEarlyMediaRelayed(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	pol := activePolicy(t, ModeAutomatic)
	pol.Active = false
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, pol)}, trunk, nil)
	media, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer media.Close()
	first := make(chan time.Time, 1)
	go func() {
		buf := make([]byte, 2048)
		if _, _, err := media.ReadFromUDP(buf); err == nil {
			first <- time.Now()
		}
	}()
	callee := calleeScript(t, trunk, `<recv request="INVITE" crlf="true"><action>
  <ereg regexp=".*" search_in="hdr" header="Via:" assign_to="via"/>
  <ereg regexp=".*" search_in="hdr" header="CSeq:" assign_to="cseq"/>
</action></recv>`+"\n"+
		reply(183, "Session Progress", "Require: 100rel\nRSeq: 1", sdpBody("sendrecv"))+
		`<recv request="PRACK"/>`+"\n"+replyInDialog(200, "OK", "", "")+rtpStart+pause(1500)+
		send(`SIP/2.0 200 OK
Via:[$via]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq:[$cseq]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>`, sdpBody("sendrecv"), false)+
		`<recv request="ACK" crlf="true"/>`+"\n"+`<recv request="BYE"/>`+"\n"+replyInDialog(200, "OK", "", "")+pause(300))
	callerSDP := "v=0\r\no=user1 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(media.LocalAddr().(*net.UDPAddr).Port) + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
	caller := callerScript(t, e, callerInvite(1, "", callerSDP)+recv100+`<recv response="180" optional="true"/>`+
		`<recv response="183"><action>
  <ereg regexp="m=audio [0-9]+ RTP/AVP 0" search_in="body" check_it="true" assign_to="early"/>
</action></recv><Reference variables="early"/>`+"\n"+
		`<recv response="200" rtd="true" rrs="true"/>`+"\n"+callerAck(1, "")+pause(500)+
		callerRequest("BYE", 2, "", "")+`<recv response="200" crlf="true"/>`+"\n", nil)
	waitBoth(t, caller, callee)
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
	}
	select {
	case at := <-first:
		t.Logf("first audio at the caller %v before the destination answered", c.Answered.Sub(at))
		if !at.Before(c.Answered.Add(-500 * time.Millisecond)) {
			t.Fatalf("first audio at the caller %v, answer at %v: no early media", at, c.Answered)
		}
	default:
		t.Fatal("no audio reached the caller")
	}
}
