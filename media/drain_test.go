package media

import (
	"strconv"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// TestDrainKeepsRunningCallsRefusesNewOnes: a node told to drain answers OPTIONS and new
// INVITEs with 503 (a dispatcher's probe takes it out of rotation, a call sent anyway fails
// over), while the call it is carrying goes on to its own end, recorded; then it is idle.
func TestDrainKeepsRunningCallsRefusesNewOnes(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	trunkPort := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, noticeOffPolicy(t))}, trunkPort, nil)
	addr := e.SIPAddr()
	probe := udpOn(t, "127.0.0.1")
	if code := exchange(t, probe, addr, outOfDialog(probe, addr, "OPTIONS", "", ""), 2*time.Second); code != 200 {
		t.Fatalf("OPTIONS before the drain: %d", code)
	}

	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"}, "-p", strconv.Itoa(trunkPort))
	time.Sleep(200 * time.Millisecond)
	caller := startSipp(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "4000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", addr)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if cs := e.Calls(); len(cs) == 1 && cs[0].State == StateConnected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connected call: %+v", e.Calls())
		}
	}

	e.Drain()
	if n := e.Active(); n != 1 {
		t.Fatalf("Active while a call runs: %d", n)
	}
	if code := exchange(t, probe, addr, outOfDialog(probe, addr, "OPTIONS", "", ""), 2*time.Second); code != 503 {
		t.Errorf("OPTIONS while draining: %d, want 503", code)
	}
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7078 RTP/AVP 0\r\n"
	if code := exchange(t, probe, addr, outOfDialog(probe, addr, "INVITE", "Content-Type: application/sdp\r\n", sdp), 2*time.Second); code != 503 {
		t.Errorf("INVITE while draining: %d, want 503", code)
	}

	if err := caller.wait(t, 30*time.Second); err != nil {
		t.Fatalf("the running call did not finish normally: %v", err)
	}
	if err := callee.wait(t, 20*time.Second); err != nil {
		t.Fatalf("callee: %v", err)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted || c.Recording == nil || c.Recording.Duration < 3*time.Second {
		t.Fatalf("the call that ran through the drain: outcome %q, recording %+v", c.Outcome, c.Recording)
	}
	for deadline := time.Now().Add(3 * time.Second); e.Active() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Active after the last call: %d", e.Active())
		}
	}
	if n := len(e.Calls()); n != 0 {
		t.Fatalf("%d calls after the drain's refusals", n)
	}
}
