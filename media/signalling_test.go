package media

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"callrec/internal/testtool"
)

const testOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 7078 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"

// invite sends one INVITE with sipgo and returns the final status.
func invite(t *testing.T, addr, dialed, from string) int {
	t.Helper()
	return inviteSDP(t, addr, dialed, from, testOffer)
}

func inviteSDP(t *testing.T, addr, dialed, from, offer string) int {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	host, port := splitHostPort(t, addr)
	req := gosip.NewRequest(gosip.INVITE, gosip.Uri{Scheme: "sip", User: dialed, Host: host, Port: port})
	fh := &gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: from, Host: "127.0.0.1"}, Params: gosip.NewParams()}
	fh.Params.Add("tag", gosip.GenerateTagN(8))
	req.AppendHeader(fh)
	req.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: from, Host: "127.0.0.1", Port: 5099}})
	req.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(offer))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cli.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			p, err := strconv.Atoi(addr[i+1:])
			if err != nil {
				t.Fatal(err)
			}
			return addr[:i], p
		}
	}
	t.Fatalf("bad address %q", addr)
	return "", 0
}

func TestNumberInNoPoolGets404(t *testing.T) {
	e := startEngine(t, memDir{}, freePort(t), nil)
	if code := invite(t, e.SIPAddr(), "4930999", "4930111"); code != 404 {
		t.Fatalf("status %d, want 404", code)
	}
	select {
	case c := <-e.sink.ended:
		t.Fatalf("a call to no pool reached the sink: %+v", c)
	default:
	}
}

func TestBusyDestination(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, Policy{})}, trunk, nil)
	callee := startSipp(t, "sipp_reject.xml", map[string]string{"CODE": "486"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	if code := invite(t, e.SIPAddr(), "49711218431431", "49711218431440"); code != 486 {
		t.Fatalf("caller got %d, want 486", code)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeBusy || !c.Bridged.IsZero() {
		t.Fatalf("outcome %q bridged %v", c.Outcome, c.Bridged)
	}
	if err := callee.wait(t, 10*time.Second); err != nil {
		t.Fatalf("sipp callee: %v", err)
	}
	noLeaks(t, e)
}

func TestNoAnswerTimesOut(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, Policy{})}, trunk, func(c *Config) {
		c.RingTimeout = time.Second
	})
	// The callee scenario rings for 5 s before answering: longer than RingTimeout.
	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "5000"}, "-p", strconv.Itoa(trunk))
	_ = callee
	time.Sleep(200 * time.Millisecond)
	if code := invite(t, e.SIPAddr(), "49711218431431", "49711218431440"); code != 480 {
		t.Fatalf("caller got %d, want 480", code)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeUnanswered {
		t.Fatalf("outcome %q", c.Outcome)
	}
}

// TestHangupDuringNoticeLeaksNothing: the caller leaves during the announcement; no
// destination is dialed, no file made, and ports, calls and clock entries are all returned.
func TestHangupDuringNoticeLeaksNothing(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, activePolicy(t, ModeAutomatic))}, trunk, nil)
	caller := startSipp(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "300", "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", e.SIPAddr())
	if err := caller.wait(t, 20*time.Second); err != nil {
		t.Fatalf("sipp caller: %v", err)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeUnanswered || c.Recording != nil || !c.Bridged.IsZero() || hasEvent(c, EventNoticePlayed) {
		t.Fatalf("outcome %q recording %+v events %+v", c.Outcome, c.Recording, c.Events)
	}
	noLeaks(t, e)
}

// noLeaks checks that every call gave back its ports, clock entry and SIP legs.
func noLeaks(t *testing.T, e *testEngine) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ports, calls, clock, legs := e.ports.InUse(), len(e.Calls()), e.clock.Len(), e.ua.Legs()
		if ports+calls+clock+legs == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: ports %d calls %d clock %d sip legs %d", ports, calls, clock, legs)
		}
	}
}

// TestBusyAfterNotice: the caller was answered for the notice, the destination is busy: busy
// tone, then the engine hangs up; outcome busy, no file.
func TestBusyAfterNotice(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, activePolicy(t, ModeAutomatic))}, trunk, nil)
	callee := startSipp(t, "sipp_reject.xml", map[string]string{"CODE": "486"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	caller := startSipp(t, "sipp_caller_byed.xml", map[string]string{"PT": "8", "CODEC": "PCMA",
		"AUDIO": testdata(t, "caller_440.alaw"), "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", e.SIPAddr())
	if err := caller.wait(t, 20*time.Second); err != nil {
		t.Fatalf("sipp caller got no BYE: %v", err)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeBusy || c.Recording != nil || !c.Bridged.IsZero() {
		t.Fatalf("outcome %q recording %+v bridged %v", c.Outcome, c.Recording, c.Bridged)
	}
	if err := callee.wait(t, 10*time.Second); err != nil {
		t.Fatalf("sipp callee: %v", err)
	}
	noLeaks(t, e)
}

// TestCallerCancelsWhileRinging: plain call, the caller CANCELs during the destination's 180;
// the destination leg is cancelled too and the outcome is unanswered.
func TestCallerCancelsWhileRinging(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, Policy{})}, trunk, nil)
	startSipp(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "5000"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	caller := startSipp(t, "sipp_caller_cancel.xml", nil, "-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", e.SIPAddr())
	if err := caller.wait(t, 20*time.Second); err != nil {
		t.Fatalf("sipp caller: %v", err)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeUnanswered || !c.Answered.IsZero() {
		t.Fatalf("outcome %q answered %v", c.Outcome, c.Answered)
	}
}

func TestOfferWithoutG711Gets488(t *testing.T) {
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, Policy{})}, freePort(t), nil)
	g729 := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7078 RTP/AVP 18 9\r\n"
	if code := inviteSDP(t, e.SIPAddr(), "49711218431431", "4930111", g729); code != 488 {
		t.Fatalf("status %d, want 488", code)
	}
}
