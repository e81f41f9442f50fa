package media

// Interop with carriers, SBCs and PBXs as real peers (sipp scenarios; see interop_sipp_test.go
// for the building blocks): digest challenges, late offers, hold, session timers, 100rel,
// identity headers. Each checks the recording.

import (
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// TestTrunkChallengesInviteAndBye: the trunk answers the INVITE and the BYE with 401; sipp's
// verifyauth checks both digests (MD5) against the configured password, and the call is
// recorded in full. sipp 3.6's verifyauth reads only an Authorization header and no qop, so
// Proxy-Authorization (407), qop=auth and SHA-256 are checked by Kamailio
// (TestKamailioTrunkChallengesSHA256).
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
