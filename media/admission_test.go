package media

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// ringingTrunk is a destination that rings for every INVITE and answers only those from the
// caller it expects; it answers CANCEL (200, then 487) and BYE.
type ringingTrunk struct {
	conn    *net.UDPConn
	answer  string // From user whose calls are answered; "": none
	media   *net.UDPConn
	mu      sync.Mutex
	invites map[string]string // by Call-ID
}

func startRingingTrunk(t *testing.T, port int, answer string) *ringingTrunk {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	tr := &ringingTrunk{conn: c, answer: answer, media: udpOn(t, "127.0.0.1"), invites: map[string]string{}}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			switch {
			case strings.HasPrefix(msg, "INVITE "):
				tr.mu.Lock()
				tr.invites[header(msg, "Call-ID")] = msg
				tr.mu.Unlock()
				if answer != "" && strings.Contains(header(msg, "From"), "sip:"+answer+"@") {
					port := tr.media.LocalAddr().(*net.UDPAddr).Port
					sdp := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\n", port)
					ok := strings.Replace(rawAnswer(msg, 200, "OK"), "Content-Length: 0\r\n\r\n",
						"Contact: <sip:127.0.0.1:"+strconv.Itoa(port)+">\r\nContent-Type: application/sdp\r\nContent-Length: "+strconv.Itoa(len(sdp))+"\r\n\r\n"+sdp, 1)
					_, _ = c.WriteToUDP([]byte(ok), from)
				} else {
					_, _ = c.WriteToUDP([]byte(rawAnswer(msg, 180, "Ringing")), from)
				}
			case strings.HasPrefix(msg, "CANCEL "):
				_, _ = c.WriteToUDP([]byte(rawAnswer(msg, 200, "OK")), from)
				tr.mu.Lock()
				inv := tr.invites[header(msg, "Call-ID")]
				tr.mu.Unlock()
				if inv != "" {
					_, _ = c.WriteToUDP([]byte(rawAnswer(inv, 487, "Request Terminated")), from)
				}
			case strings.HasPrefix(msg, "ACK "), strings.HasPrefix(msg, "SIP/2.0 "):
			default:
				_, _ = c.WriteToUDP([]byte(rawAnswer(msg, 200, "OK")), from)
			}
		}
	}()
	return tr
}

func (tr *ringingTrunk) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.invites)
}

// floodInvite is INVITE number i of a flood from c, never acknowledged.
func floodInvite(c *net.UDPConn, engine string, i int) string {
	a := c.LocalAddr().(*net.UDPAddr)
	sdp := "v=0\r\no=- 1 1 IN IP4 " + a.IP.String() + "\r\ns=-\r\nc=IN IP4 " + a.IP.String() + "\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
	return fmt.Sprintf("INVITE sip:49711218431431@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-flood-%d;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:666@%s>;tag=f%d\r\nTo: <sip:49711218431431@%s>\r\nCall-ID: flood-%d-%s\r\n"+
		"CSeq: 1 INVITE\r\nContact: <sip:666@%s>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		engine, a, i, a.IP, i, engine, i, a.IP, a, len(sdp), sdp)
}

// tracedAt is when sipp logged the first message starting with prefix.
func tracedAt(t *testing.T, log, prefix string) time.Time {
	t.Helper()
	for _, block := range strings.Split("\n"+log, "\n-----------------------------------------------")[1:] {
		stamp, rest, _ := strings.Cut(block, "\n")
		if _, msg, ok := strings.Cut(rest, ":\n\n"); ok && strings.HasPrefix(msg, prefix) {
			at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(stamp), time.Local)
			if err != nil {
				t.Fatalf("sipp trace time %q: %v", stamp, err)
			}
			return at
		}
	}
	t.Fatalf("no %q in the trace", prefix)
	return time.Time{}
}

// TestInviteFloodFromOneSourceLocksNobodyOut: 600 INVITEs that are never acknowledged, from one
// address, to a pool whose destination rings and never answers them; meanwhile a caller from
// another address is connected at once. The flood is held to the per-source limits (the rest
// gets 503) and takes no more ports than those calls need.
func TestInviteFloodFromOneSourceLocksNobodyOut(t *testing.T) {
	testtool.Short(t)
	trunkPort := freePort(t)
	trunk := startRingingTrunk(t, trunkPort, "49711218431440")
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, Policy{})}, trunkPort, nil)
	flooder := udpOn(t, "127.0.0.2")
	engine, _ := net.ResolveUDPAddr("udp", e.SIPAddr())

	answers := map[string]int{} // final answer by Call-ID (retransmissions come too)
	var mu sync.Mutex
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := flooder.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if code := final(string(buf[:n])); code != 0 {
				mu.Lock()
				answers[header(string(buf[:n]), "Call-ID")] = code
				mu.Unlock()
			}
		}
	}()
	_ = flooder.SetReadBuffer(8 << 20)
	start := time.Now()
	for i := 0; i < 600; i++ {
		if _, err := flooder.WriteToUDP([]byte(floodInvite(flooder, e.SIPAddr(), i)), engine); err != nil {
			t.Fatal(err)
		}
		// 600 within a tenth of a second: a flood, yet not more than a socket buffer holds.
		for time.Since(start) < time.Duration(i)*150*time.Microsecond {
		}
	}

	trace := filepath.Join(t.TempDir(), "caller.log")
	caller := startSipp(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "1000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-trace_msg", "-message_file", trace, "-s", "49711218431431", e.SIPAddr())
	if err := caller.wait(t, 30*time.Second); err != nil {
		t.Fatalf("the caller from another address during the flood: %v", err)
	}
	log, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	setup := tracedAt(t, string(log), "SIP/2.0 200 OK").Sub(tracedAt(t, string(log), "INVITE sip:"))
	mu.Lock()
	codes := map[int]int{}
	for _, c := range answers {
		codes[c]++
	}
	refused := codes[503]
	mu.Unlock()
	open := e.ua.Unconfirmed(netip.MustParseAddr("127.0.0.2"))
	t.Logf("caller connected in %v; flood: %d refused with 503, %d ringing, %d ports in use, answers %v",
		setup, refused, open, e.ports.InUse(), codes)
	if setup > 2*time.Second {
		t.Errorf("the caller waited %v for its answer", setup)
	}
	// A loaded machine drops some of the flood before the engine reads it (the kernel counts
	// them as receive buffer errors); what arrives beyond the first 100 is refused.
	if open > 100 || refused < 100 || len(codes) != 1 {
		t.Errorf("the flood was not held to the per-source limits: %d calls open, %d refused, answers %v", open, refused, codes)
	}
	if got := e.ports.InUse(); got > 2*100+2 {
		t.Errorf("%d RTP ports in use for at most 100 ringing calls and one ending", got)
	}
	if n := trunk.count(); n > 101 {
		t.Errorf("%d calls reached the destination", n)
	}
	e.stop()
	drainEnded(e)
	noLeaks(t, e)
}

// TestCallCapsPerPoolAndCustomer: the third call to a pool capped at 2, the second to a pool
// whose own cap is 1, and any call beyond the customer's 3, get 486 and reach no destination;
// a call that ends gives its place back.
func TestCallCapsPerPoolAndCustomer(t *testing.T) {
	testtool.Short(t)
	trunkPort := freePort(t)
	trunk := startRingingTrunk(t, trunkPort, "")
	a := demoRoute(t, Policy{})
	b := demoRoute(t, Policy{})
	b.PoolID, b.MaxCalls = 3, 1
	c := demoRoute(t, Policy{})
	c.PoolID, c.CustomerID = 4, 2
	e := startEngine(t, memDir{"49711218431431": a, "49711218431432": b, "49711218431433": c}, trunkPort, func(cfg *Config) {
		cfg.CallsPerPool, cfg.CallsPerCustomer = 2, 3
	})
	type call struct {
		u    *rawUA
		code int
	}
	dial := func(number string) call {
		u := newRawUA(t, e.SIPAddr())
		u.send(u.request("INVITE", number, "", u.sdp()))
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			m := u.recv(time.Until(deadline))
			if code := final(m); code != 0 {
				return call{u, code}
			}
			if strings.HasPrefix(m, "SIP/2.0 180 ") {
				return call{u, 180}
			}
		}
		return call{u, 0}
	}
	var calls []call
	for _, step := range []struct {
		number string
		want   int
	}{
		{"49711218431431", 180}, {"49711218431431", 180}, {"49711218431431", 486}, // pool cap 2
		{"49711218431432", 180}, {"49711218431432", 486}, // the pool's own cap 1 (and the customer's 3)
		{"49711218431433", 180}, // another customer
	} {
		before := trunk.count()
		got := dial(step.number)
		if got.code != step.want {
			t.Fatalf("call to %s: %d, want %d", step.number, got.code, step.want)
		}
		if reached := trunk.count() - before; (step.want == 486) != (reached == 0) {
			t.Fatalf("call to %s answered %d reached the destination %d times", step.number, got.code, reached)
		}
		calls = append(calls, got)
	}
	if n := len(e.Calls()); n != 4 {
		t.Fatalf("%d live calls, want 4", n)
	}
	// The first caller gives up: its place in the pool is free again.
	calls[0].u.send(calls[0].u.request("CANCEL", "49711218431431", "", ""))
	if code, _ := calls[0].u.final("INVITE", 5*time.Second); code != 487 {
		t.Fatalf("cancelled call: %d, want 487", code)
	}
	for deadline := time.Now().Add(5 * time.Second); len(e.Calls()) != 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d live calls after the CANCEL, want 3", len(e.Calls()))
		}
	}
	if got := dial("49711218431431"); got.code != 180 {
		t.Fatalf("a call to the pool after one ended: %d, want 180", got.code)
	}
	e.stop()
	drainEnded(e)
	noLeaks(t, e)
}
