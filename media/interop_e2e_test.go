package media

// Interop with carriers, SBCs and PBXs as real peers (sipp scenarios; see interop_sipp_test.go
// for the building blocks): digest challenges, late offers, hold, session timers, 100rel,
// identity headers. Each checks the recording.

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// TestTrunkChallengesInviteAndBye: the trunk answers the INVITE and the BYE with 401; sipp's
// verifyauth checks both digests (MD5) against the configured password, and the call is
// recorded in full. sipp 3.6's verifyauth reads only an Authorization header and no qop, so
// Proxy-Authorization (407), qop=auth and SHA-256 are checked by Kamailio
// (TestKamailioTrunkChallengesInvite, TestKamailioRegistrarChallenge).
func TestTrunkChallengesInviteAndBye(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, func(c *Config) { c.TrunkUser, c.TrunkPassword = "trunkuser", "s3cret!" })
	challenge := func(code int, reason, hdr string) string {
		return replyInDialog(code, reason, hdr+`: Digest realm="carrier.example", nonce="[pid][call_number]n0nce", algorithm=MD5`, "")
	}
	callee := calleeScript(t, trunk, `<recv request="INVITE"/>`+"\n"+
		send(`SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="carrier.example", nonce="[pid]n0nce", algorithm=MD5`, "", false)+
		`<recv request="ACK"/>`+"\n"+
		`<recv request="INVITE" check_it="true"><action>
  <verifyauth assign_to="inviteok" username="trunkuser" password="s3cret!"/>
</action></recv>`+"\n"+
		`<nop test="inviteok" next="invite_ok"/>`+"\n"+reply(403, "Forbidden", "", "")+`<recv request="ACK"/><label id="invite_ok"/>`+"\n"+
		reply(200, "OK", "", sdpBody("sendrecv"))+
		`<recv request="ACK" crlf="true"/>`+"\n"+rtpStart+
		`<recv request="BYE"/>`+"\n"+challenge(401, "Unauthorized", "WWW-Authenticate")+
		`<recv request="BYE"><action><verifyauth assign_to="byeok" username="trunkuser" password="s3cret!"/></action></recv>`+"\n"+
		`<nop test="byeok" next="bye_ok"/>`+"\n"+replyInDialog(403, "Forbidden", "", "")+`<label id="bye_ok"/>`+"\n"+
		replyInDialog(200, "OK", "", "")+pause(300))
	caller := callerScript(t, e, plainCaller("", 3000, 2), nil)
	waitBoth(t, caller, callee)
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
	}
	bothVoices(t, e, c, 500*time.Millisecond, -300*time.Millisecond)
	if strings.Contains(callee.Output(), "403 Forbidden") {
		t.Fatal("a digest did not verify")
	}
}

// TestTrunkRefusingCredentialsFailsCleanly: a trunk that challenges every INVITE (wrong
// password, or a loop) gets two answers and then the call fails with the reason in the trail;
// the caller hears 403's mapping, nothing hangs.
func TestTrunkRefusingCredentialsFailsCleanly(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	pol := activePolicy(t, ModeAutomatic)
	pol.Active = false
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, pol)}, trunk, func(c *Config) { c.TrunkUser, c.TrunkPassword = "u", "wrong" })
	var loop strings.Builder
	for i := 0; i < 3; i++ {
		loop.WriteString(`<recv request="INVITE"/>` + "\n" + send(`SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="carrier.example", nonce="[pid]`+string(rune('a'+i))+`", algorithm=MD5`, "", false) + `<recv request="ACK"/>` + "\n")
	}
	callee := calleeScript(t, trunk, loop.String()+pause(500))
	caller := callerScript(t, e, callerInvite(1, "", sdpBody("sendrecv"))+recv100+recv18x+
		`<recv response="403"/>`+"\n"+callerAckFailure(1), nil)
	waitBoth(t, caller, callee)
	c := e.sink.wait(t, 10*time.Second)
	ev, ok := eventOf(c, EventSignallingError)
	if c.Outcome != OutcomeFailed || !ok || !strings.Contains(ev.Detail, "credentials") {
		t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
	}
	if e.ua.Legs() != 0 {
		t.Fatalf("%d dialogs left", e.ua.Legs())
	}
}

// TestLateOfferBothLegs: the caller's INVITE has no SDP; the engine offers in its 200 and takes
// the caller's answer from the ACK, and calls the destination without SDP too, answering the
// destination's offer in its ACK. Both voices are recorded.
func TestLateOfferBothLegs(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, nil)
	callee := calleeScript(t, trunk, lateOfferCallee())
	caller := callerScript(t, e, lateOfferCaller(), nil)
	waitBoth(t, caller, callee)
	checkLateOffer(t, e)
}

// lateOfferCallee checks the engine's INVITE has no SDP and its ACK our answer.
func lateOfferCallee() string {
	return `<recv request="INVITE" crlf="true"><action>
  <ereg regexp="^$" search_in="body" check_it="true" assign_to="nosdp"/>
</action></recv><Reference variables="nosdp"/>` + "\n" +
		reply(200, "OK", "", sdpBody("sendrecv")) + `<recv request="ACK" crlf="true"><action>
  <ereg regexp="m=audio [0-9]+ RTP/AVP 0" search_in="body" check_it="true" assign_to="answer"/>
</action></recv><Reference variables="answer"/>` + "\n" + rtpStart +
		`<recv request="BYE"/>` + "\n" + replyInDialog(200, "OK", "", "") + pause(300)
}

// lateOfferCaller sends an INVITE without SDP, checks our offer in the 200 and answers in
// the ACK.
func lateOfferCaller() string {
	return callerInvite(1, "", "") + recv100 + recv18x +
		`<recv response="200" rtd="true" rrs="true"><action>
  <ereg regexp="m=audio [0-9]+ RTP/AVP 0 8" search_in="body" check_it="true" assign_to="offer"/>
</action></recv><Reference variables="offer"/>` + "\n" +
		callerAck(1, sdpBody("sendrecv")) + rtpStart + pause(3000) + callerRequest("BYE", 2, "", "") +
		`<recv response="200" crlf="true"/>` + "\n"
}

func checkLateOffer(t *testing.T, e *testEngine) {
	t.Helper()
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
	}
	bothVoices(t, e, c, 1200*time.Millisecond, -300*time.Millisecond)
}

// TestHoldIsSilenceInTheHeldDirection: the caller puts the call on hold (re-INVITE sendonly)
// and resumes it (sendrecv); the engine relays both to the destination, notes them in the
// trail, and the destination's audio is silent in the recording while it is held, back after.
func TestHoldIsSilenceInTheHeldDirection(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, nil)
	callee := calleeScript(t, trunk, holdCallee("sendonly"))
	caller := callerScript(t, e, holdCaller(sdpBodyV(2, "sendonly")), nil)
	waitBoth(t, caller, callee)
	checkHold(t, e, e.sink.wait(t, 10*time.Second))
}

// holdCallee answers, then takes the relayed hold (its SDP says relayed) and resume.
func holdCallee(relayed string) string { return holdCalleeAnswering(relayed, "recvonly") }

// holdCalleeAnswering is holdCallee answering the hold with answer.
func holdCalleeAnswering(relayed, answer string) string {
	step := func(want, answer, id string) string {
		return `<recv request="INVITE"><action>
  <ereg regexp="` + want + `" search_in="body" check_it="true" assign_to="` + id + `"/>
</action></recv><Reference variables="` + id + `"/>` + "\n" + replyInDialog(200, "OK", "", sdpBody(answer)) + `<recv request="ACK"/>` + "\n"
	}
	return `<recv request="INVITE" crlf="true"/>` + "\n" +
		reply(200, "OK", "", sdpBody("sendrecv")) + `<recv request="ACK" crlf="true"/>` + "\n" + rtpStart +
		step(relayed, answer, "dheld") + step("a=sendrecv", "sendrecv", "dresumed") +
		`<recv request="BYE"/>` + "\n" + replyInDialog(200, "OK", "", "") + pause(300)
}

// holdCaller talks, puts the call on hold with the re-INVITE's SDP held, resumes with
// sendrecv and hangs up, 2 s each.
func holdCaller(held string) string { return holdCallerBy("INVITE", held) }

// holdCallerBy is holdCaller holding and resuming with method (INVITE or UPDATE).
func holdCallerBy(method, held string) string {
	change := func(n int, sdp string) string {
		s := callerRequest(method, n, "", sdp) + `<recv response="100" optional="true"/><recv response="200"/>` + "\n"
		if method == "INVITE" {
			s += callerAck(n, "")
		}
		return s
	}
	return callerInvite(1, "", sdpBody("sendrecv")) + recv100 + recv18x +
		`<recv response="200" rtd="true" rrs="true"/>` + "\n" + callerAck(1, "") + rtpStart + pause(2000) +
		change(2, held) + pause(2000) + change(3, sdpBodyV(3, "sendrecv")) +
		pause(2000) + callerRequest("BYE", 4, "", "") + `<recv response="200" crlf="true"/>` + "\n"
}

// checkHold: hold and resume in the trail, the callee silent in the recording only while
// held, the caller heard throughout.
func checkHold(t *testing.T, e *testEngine, c CallInfo) { checkHoldBoth(t, e, c, false) }

// checkHoldBoth is checkHold; with both, the caller (who held with inactive or 0.0.0.0: it
// sends nothing either) is silent too while held.
func checkHoldBoth(t *testing.T, e *testEngine, c CallInfo, both bool) {
	t.Helper()
	if c.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
	}
	held, ok1 := eventOf(c, EventHeld)
	resumed, ok2 := eventOf(c, EventResumed)
	if !ok1 || !ok2 {
		t.Fatalf("no hold and resume in the trail: %+v", c.Events)
	}
	ch, pcm, length := recording(t, e, c)
	// The file starts at the bridge.
	hFrom, hTo := held.At.Sub(c.Bridged)+300*time.Millisecond, resumed.At.Sub(c.Bridged)-200*time.Millisecond
	during, _ := channelStats(pcm, ch, 1, hFrom, hTo)
	before, _ := channelStats(pcm, ch, 1, 500*time.Millisecond, held.At.Sub(c.Bridged)-200*time.Millisecond)
	after, _ := channelStats(pcm, ch, 1, resumed.At.Sub(c.Bridged)+500*time.Millisecond, length-300*time.Millisecond)
	callerHeld, _ := channelStats(pcm, ch, 0, hFrom, hTo)
	callerBefore, _ := channelStats(pcm, ch, 0, 500*time.Millisecond, held.At.Sub(c.Bridged)-200*time.Millisecond)
	callerAfter, _ := channelStats(pcm, ch, 0, resumed.At.Sub(c.Bridged)+500*time.Millisecond, length-300*time.Millisecond)
	t.Logf("callee rms before %.0f, on hold %.0f (%v..%v), after %.0f; caller before %.0f, on hold %.0f, after %.0f",
		before, during, hFrom, hTo, after, callerBefore, callerHeld, callerAfter)
	if before < 1000 || after < 1000 || during > 50 || callerBefore < 1000 || callerAfter < 1000 {
		t.Fatalf("want the callee silent only while held")
	}
	if both && callerHeld > 50 || !both && callerHeld < 1000 {
		t.Fatalf("caller on hold rms %.0f: want it %s", callerHeld, map[bool]string{true: "silent too", false: "heard throughout"}[both])
	}
}

// TestSessionTimerExpiryEndsTheCall: the caller asks for a 2 s session interval and to refresh
// itself (refresher=uac), then never refreshes: the engine ends the call with a BYE to both legs
// before the interval is over (RFC 4028 10), and the trail says why.
func TestSessionTimerExpiryEndsTheCall(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, func(c *Config) { c.MinSE = time.Second })
	callee := calleeScript(t, trunk, plainCallee(""))
	caller := callerScript(t, e, callerInvite(1, "Supported: timer\nSession-Expires: 2;refresher=uac\nMin-SE: 1", sdpBody("sendrecv"))+
		recv100+recv18x+`<recv response="200" rtd="true" rrs="true"><action>
  <ereg regexp="2;refresher=uac" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="se"/>
</action></recv><Reference variables="se"/>`+"\n"+callerAck(1, "")+rtpStart+
		`<recv request="BYE" timeout="8000"/>`+"\n"+replyInDialog(200, "OK", "", "")+pause(300), nil)
	waitBoth(t, caller, callee)
	c := e.sink.wait(t, 10*time.Second)
	if _, ok := eventOf(c, EventSessionExpired); !ok {
		t.Fatalf("no session expiry in the trail: outcome %q events %+v", c.Outcome, c.Events)
	}
	if d := c.Ended.Sub(c.Bridged); d > 2500*time.Millisecond {
		t.Fatalf("call lasted %v after the bridge, past its 2 s session interval", d)
	}
}

// TestReliableProvisionalIsPracked: the destination sends 183 with Require: 100rel and early
// SDP; the engine PRACKs it (RAck naming its RSeq and the INVITE's CSeq), the call goes on to
// 200, and the ACK carries the INVITE's CSeq number, not the PRACK's (RFC 3261 13.2.2.4).
func TestReliableProvisionalIsPracked(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, nil)
	callee := calleeScript(t, trunk, `<recv request="INVITE" crlf="true"><action>
  <ereg regexp=".*" search_in="hdr" header="Via:" assign_to="via"/>
  <ereg regexp=".*" search_in="hdr" header="CSeq:" assign_to="cseq"/>
  <ereg regexp="100rel" search_in="hdr" header="Supported:" check_it="true" assign_to="rel"/>
</action></recv><Reference variables="rel"/>`+"\n"+
		reply(183, "Session Progress", "Require: 100rel\nRSeq: 7", sdpBody("sendrecv"))+
		`<recv request="PRACK"><action>
  <ereg regexp="^ *7 [0-9]+ INVITE" search_in="hdr" header="RAck:" check_it="true" assign_to="rack"/>
</action></recv><Reference variables="rack"/>`+"\n"+replyInDialog(200, "OK", "", "")+rtpStart+pause(500)+
		send(`SIP/2.0 200 OK
Via:[$via]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq:[$cseq]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>`, sdpBody("sendrecv"), false)+
		`<recv request="ACK" crlf="true"/>`+"\n"+
		`<recv request="BYE"/>`+"\n"+replyInDialog(200, "OK", "", "")+pause(300), "-trace_msg")
	caller := callerScript(t, e, plainCaller("", 2500, 2), nil)
	waitBoth(t, caller, callee)
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
	}
	msgs := callee.Messages()
	inv := regexp.MustCompile(`(?m)^CSeq: (\d+) INVITE`).FindStringSubmatch(msgs)
	ack := regexp.MustCompile(`(?m)^CSeq: (\d+) ACK`).FindStringSubmatch(msgs)
	if inv == nil || ack == nil || inv[1] != ack[1] {
		t.Fatalf("INVITE CSeq %v, ACK CSeq %v\n%s", inv, ack, msgs)
	}
}

// TestWithheldCallerAndDiversion: a carrier's INVITE names the caller only in
// P-Asserted-Identity with Privacy: id and says where it was forwarded from (Diversion,
// History-Info). The call record has no caller number (the file name rule: withheld is empty)
// and keeps the redirection headers; the destination gets an anonymous From with Privacy: id.
func TestWithheldCallerAndDiversion(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, nil)
	callee := calleeScript(t, trunk, plainCallee(""), "-trace_msg")
	caller := callerScript(t, e, plainCaller("P-Asserted-Identity: <sip:+4971199887766@carrier.example>\nPrivacy: id\n"+
		"Diversion: <sip:+4971155544433@carrier.example>;reason=unconditional\n"+
		"History-Info: <sip:+4971155544433@carrier.example>;index=1", 1500, 2),
		map[string]string{"FROM_HDR": `"Anonymous" <sip:anonymous@anonymous.invalid>`})
	waitBoth(t, caller, callee)
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted || c.A != "" {
		t.Fatalf("outcome %q, caller %q (want empty: withheld)", c.Outcome, c.A)
	}
	if !strings.Contains(c.Diversion, "+4971155544433") || !strings.Contains(c.Diversion, "reason=unconditional") ||
		!strings.Contains(c.HistoryInfo, "index=1") {
		t.Fatalf("redirection headers not kept: Diversion %q History-Info %q", c.Diversion, c.HistoryInfo)
	}
	if c.Recording == nil || strings.Contains(c.Recording.Path, "9887766") {
		t.Fatalf("recording %+v", c.Recording)
	}
	msgs := callee.Messages()
	invite := msgs[strings.Index(msgs, "INVITE sip:"):]
	invite = invite[:strings.Index(invite, "\n\n")+1]
	if !regexp.MustCompile(`(?m)^Privacy: id`).MatchString(invite) || !regexp.MustCompile(`(?mi)^From: .*anonymous`).MatchString(invite) {
		t.Fatalf("destination's INVITE does not keep the caller hidden:\n%s", invite)
	}
}
