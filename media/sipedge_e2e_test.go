package media

// Issue 22's SIP leftovers against real peers: the configured User-Agent on every request and
// answer of ours (the destination's BYE, the library's own 400 and 505), and a TCP connection
// carrying a call outliving the idle timeout.

import (
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
