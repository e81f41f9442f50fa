package media

// Issue 22's SIP leftovers against real peers: the configured User-Agent on every request and
// answer of ours (the destination's BYE, the library's own 400 and 505), and a TCP connection
// carrying a call outliving the idle timeout.

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// TestUserAgentOnByeAndOwnAnswers: with --sip-user-agent set, the BYE the engine sends the
// destination carries it (sipp checks the header and fails the call without it), and so do the
// 400 to a request that does not parse and the 505 to SIP/7.0, which the SIP library answers
// without the engine.
func TestUserAgentOnByeAndOwnAnswers(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	const name = "Carrier-Lab/1.0"
	e := startEngine(t, recordedRoute(t), trunk, func(c *Config) { c.SIPUserAgent = name })
	callee := calleeScript(t, trunk, `<recv request="INVITE" crlf="true"/>`+"\n"+
		reply(200, "OK", "", sdpBody("sendrecv"))+`<recv request="ACK" crlf="true"/>`+"\n"+rtpStart+
		`<recv request="BYE"><action>
  <ereg regexp="Carrier-Lab/1\.0" search_in="hdr" header="User-Agent:" check_it="true" assign_to="ua"/>
</action></recv><Reference variables="ua"/>`+"\n"+replyInDialog(200, "OK", "", "")+pause(300))
	caller := callerScript(t, e, plainCaller("", 1500, 2), nil)
	waitBoth(t, caller, callee)
	if c := e.sink.wait(t, 10*time.Second); c.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %q", c.Outcome)
	}

	u := newRawUA(t, e.SIPAddr())
	defer u.close()
	for _, c := range []struct{ name, msg, status string }{
		{"unparsable", strings.Replace(u.request("OPTIONS", "49711218431431", "", ""), "OPTIONS sip:", "OPTIONS  sip:", 1), "SIP/2.0 400 "},
		{"SIP/7.0", strings.Replace(u.request("OPTIONS", "49711218431431", "", ""), " SIP/2.0\r\n", " SIP/7.0\r\n", 1), "SIP/2.0 505 "},
	} {
		u.send(c.msg)
		res := u.recv(2 * time.Second)
		if !strings.HasPrefix(res, c.status) || header(res, "Server") != name {
			t.Errorf("%s: want %q with Server %q, got\n%s", c.name, c.status, name, res)
		}
	}
}

// TestTCPCallOutlivesIdleTimeout: a call over TCP with no SIP traffic for longer than the idle
// timeout keeps its connection; the caller's BYE comes over it and is answered, and the
// recording is whole. An idle connection without a call still closes (the library's test).
func TestTCPCallOutlivesIdleTimeout(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, func(c *Config) { c.SIPTCPIdleTimeout = 500 * time.Millisecond })
	callee := calleeScript(t, trunk, plainCallee(""))
	caller := callerScript(t, e, plainCaller("", 3000, 2), nil, "-t", "t1")
	waitBoth(t, caller, callee)
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
	}
	bothVoices(t, e, c, 500*time.Millisecond, -300*time.Millisecond)
	if d := c.Ended.Sub(c.Bridged); d < 2500*time.Millisecond {
		t.Fatalf("call lasted %v: ended before the caller's BYE", d)
	}
}

// TestUserAgentOnAckAnd487: the configured name is on our ACK to the destination's 2xx and on
// the 487 that ends an INVITE its caller cancelled (both made apart from the engine's other
// messages: the ACK by the dialog, the 487 by the library's transaction), and with no name
// configured nothing the peers receive names the software (no User-Agent, no Server, no
// "callrec" or "sipgo" anywhere).
func TestUserAgentOnAckAnd487(t *testing.T) {
	testtool.Short(t)
	const name = "Carrier-Lab/1.0"
	check := func(hdr, id string) string {
		return `<action><ereg regexp="Carrier-Lab/1\.0" search_in="hdr" header="` + hdr + `:" check_it="true" assign_to="` + id + `"/></action>`
	}
	for _, configured := range []bool{true, false} {
		t.Run(map[bool]string{true: "configured", false: "unconfigured"}[configured], func(t *testing.T) {
			trunk := freePort(t)
			// Not recorded: the engine rings the destination before it answers the caller, so
			// the caller can cancel.
			pol := activePolicy(t, ModeAutomatic)
			pol.Active = false
			e := startEngine(t, memDir{"49711218431431": demoRoute(t, pol)}, trunk, func(c *Config) {
				if configured {
					c.SIPUserAgent = name
				}
			})
			ackCheck, check487 := "", ""
			if configured {
				ackCheck, check487 = check("User-Agent", "ua"), check("Server", "srv")
			}
			refs := func(id string) string {
				if configured {
					return `<Reference variables="` + id + `"/>` + "\n"
				}
				return ""
			}
			// An answered call: the ACK to the destination's 200.
			callee := calleeScript(t, trunk, `<recv request="INVITE" crlf="true"/>`+"\n"+
				reply(200, "OK", "", sdpBody("sendrecv"))+`<recv request="ACK" crlf="true">`+ackCheck+`</recv>`+refs("ua")+rtpStart+
				`<recv request="BYE"/>`+"\n"+replyInDialog(200, "OK", "", "")+pause(300), "-trace_msg")
			caller := callerScript(t, e, plainCaller("", 1000, 2), nil, "-trace_msg")
			waitBoth(t, caller, callee)
			if c := e.sink.wait(t, 10*time.Second); c.Outcome != OutcomeCompleted {
				t.Fatalf("outcome %q", c.Outcome)
			}
			msgs := caller.Messages() + callee.Messages()

			// A cancelled call: the caller gives up while the destination rings.
			callee = calleeScript(t, trunk, `<recv request="INVITE" crlf="true"><action>
  <ereg regexp=".*" search_in="hdr" header="Via:" assign_to="via"/>
  <ereg regexp=".*" search_in="hdr" header="CSeq:" assign_to="cseq"/>
</action></recv>`+"\n"+reply(180, "Ringing", "", "")+`<recv request="CANCEL"/>`+"\n"+replyInDialog(200, "OK", "", "")+
				send(`SIP/2.0 487 Request Terminated
Via:[$via]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq:[$cseq]`, "", false)+`<recv request="ACK"/>`+"\n"+pause(200), "-trace_msg")
			caller = callerScript(t, e, callerInvite(1, "", sdpBody("sendrecv"))+recv100+`<recv response="180"/>`+"\n"+pause(300)+
				send(`CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: {{FROM_HDR}};tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70`, "", true)+`<recv response="200"/>`+"\n"+`<recv response="487">`+check487+`</recv>`+refs("srv")+
				send(`ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: {{FROM_HDR}};tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70`, "", false), nil, "-trace_msg")
			waitBoth(t, caller, callee)
			if c := e.sink.wait(t, 10*time.Second); c.Outcome == OutcomeCompleted {
				t.Fatalf("cancelled call completed")
			}
			msgs += caller.Messages() + callee.Messages()
			if !strings.Contains(msgs, "SIP/2.0 487 Request Terminated") || !strings.Contains(msgs, "ACK sip:") {
				t.Fatalf("the traces miss the 487 or the ACK:\n%s", msgs)
			}
			if !configured {
				if m := regexp.MustCompile(`(?mi)^(User-Agent|Server):.*$|callrec|sipgo`).FindString(msgs); m != "" {
					t.Fatalf("unconfigured, yet the peers got %q:\n%s", m, msgs)
				}
			}
		})
	}
}
