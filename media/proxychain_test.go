package media

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// TestBigAnswerReachesUDPCallerBehindProxies is issue 22's lost call: an INVITE that passed a
// chain of proxies (8 Via, 4 Record-Route, 1.6 kB) must be answered over UDP although the 200 OK
// is over 1300 bytes, and the call recorded end to end; ACK and BYE follow the route set.
func TestBigAnswerReachesUDPCallerBehindProxies(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, activePolicy(t, ModeAutomatic))}, trunk, nil)
	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": "8", "CODEC": "PCMA",
		"AUDIO": testdata(t, "callee_1000.alaw"), "ACTIONS": "", "RING_MS": "300"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	trace := filepath.Join(t.TempDir(), "caller_messages.log")
	caller := startSipp(t, "sipp_caller_proxied.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "5000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-trace_msg", "-message_file", trace, "-s", "49711218431431", e.SIPAddr())
	if err := caller.wait(t, 60*time.Second); err != nil {
		t.Fatalf("the proxied caller: %v", err)
	}
	if err := callee.wait(t, 20*time.Second); err != nil {
		t.Fatalf("sipp callee: %v", err)
	}

	log, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	invite, answer := tracedMessage(string(log), "INVITE sip:"), tracedMessage(string(log), "SIP/2.0 200 OK")
	if len(invite) < 1600 || strings.Count(invite, "\nVia:") != 8 || strings.Count(invite, "\nRecord-Route:") != 4 {
		t.Fatalf("the INVITE is %d bytes with %d Via and %d Record-Route:\n%s", len(invite),
			strings.Count(invite, "\nVia:"), strings.Count(invite, "\nRecord-Route:"), invite)
	}
	if len(answer) <= 1300 || strings.Count(answer, "\nVia:") != 8 || strings.Count(answer, "\nRecord-Route:") != 4 {
		t.Fatalf("the 200 OK is %d bytes; it must copy the 8 Via and 4 Record-Route:\n%s", len(answer), answer)
	}
	t.Logf("INVITE %d bytes, 200 OK %d bytes, both over UDP", len(invite), len(answer))

	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted || c.Recording == nil {
		t.Fatalf("outcome %q recording %+v", c.Outcome, c.Recording)
	}
	path := filepath.Join(e.data, filepath.FromSlash(c.Recording.Path))
	soxReads(t, path)
	ch, pcm := wavPCM(t, path)
	length := time.Duration(len(pcm)/ch) * time.Second / 8000
	if d := (length - c.Ended.Sub(c.Bridged)).Abs(); d > 40*time.Millisecond {
		t.Errorf("file %v, connected %v", length, c.Ended.Sub(c.Bridged))
	}
	lr, lz := channelStats(pcm, ch, 0, 500*time.Millisecond, length-500*time.Millisecond)
	rr, rz := channelStats(pcm, ch, 1, 500*time.Millisecond, length-500*time.Millisecond)
	if lr < 1000 || rr < 1000 || math.Abs(lz-880) > 150 || math.Abs(rz-2000) > 300 {
		t.Fatalf("recording: left rms %.0f zcr %.0f, right rms %.0f zcr %.0f", lr, lz, rr, rz)
	}
	noLeaks(t, e)
}

// tracedMessage is the first message in a sipp -trace_msg log whose start line begins with
// prefix, as it went over the wire.
func tracedMessage(log, prefix string) string {
	for _, block := range strings.Split(log, "\n-----------------------------------------------") {
		_, msg, ok := strings.Cut(block, ":\n\n") // after "UDP message sent (N bytes):"
		if ok && strings.HasPrefix(msg, prefix) {
			return strings.TrimSuffix(msg, "\n")
		}
	}
	return ""
}
