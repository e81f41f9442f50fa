package kamailiotest

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/sipptest"
	"callrec/internal/testtool"
)

// node is a sipp answering calls on ip (and the dispatcher's OPTIONS, -aa).
func node(t *testing.T, ip string, port, calls int) *sipptest.Sipp {
	return sipptest.Start(t, "sipp_proxy_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "50"},
		"-i", ip, "-mi", ip, "-p", strconv.Itoa(port), "-aa", "-m", strconv.Itoa(calls), "-timeout", "120s", "-trace_msg")
}

// carrier places calls through the proxy from ip:port.
func carrier(t *testing.T, ip string, port, calls int, proxy string) *sipptest.Sipp {
	n := strconv.Itoa(calls)
	return sipptest.Start(t, "sipp_proxy_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "500", "FROM": "49711218431440"},
		"-i", ip, "-mi", ip, "-p", strconv.Itoa(port), "-s", "49711218431431", "-m", n, "-l", n, "-r", "10", proxy)
}

func waitActive(t *testing.T, p *Proxy, addr string, want bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if d, ok := p.Node(addr); ok && d.Active() == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			ds, _ := p.Destinations()
			t.Fatalf("node %s active=%v not reached within %s: %+v", addr, want, within, ds)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestShippedConfigDispatchesAndFailsOver runs deploy/kamailio/kamailio.cfg: the nodes' probes
// make them active, calls from the carrier are spread over both nodes and complete through the
// proxy (Record-Route: ACK and BYE pass it), a node that stops answering is marked down within
// a probe or two and the calls go to the other one, and a stranger's INVITE is refused.
func TestShippedConfigDispatchesAndFailsOver(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	n1, n2 := "127.0.0.2:"+strconv.Itoa(FreeUDPPort(t, "127.0.0.2")), "127.0.0.3:"+strconv.Itoa(FreeUDPPort(t, "127.0.0.3"))
	carrierPort := FreeUDPPort(t, "127.0.0.5")
	p := Start(t, Config{Nodes: []string{n1, n2}, Carriers: []string{"127.0.0.5:" + strconv.Itoa(carrierPort)}})

	port := func(a string) int { _, ps, _ := net.SplitHostPort(a); n, _ := strconv.Atoi(ps); return n }
	a := node(t, "127.0.0.2", port(n1), 100)
	b := node(t, "127.0.0.3", port(n2), 100)
	waitActive(t, p, n1, true, 6*time.Second)
	waitActive(t, p, n2, true, 6*time.Second)

	c := carrier(t, "127.0.0.5", carrierPort, 10, p.Addr)
	if err := c.Wait(t, 60*time.Second); err != nil {
		t.Fatalf("calls through the proxy: %v\n%s", err, c.Output())
	}

	// Node 2 dies; calls placed at once still connect (an INVITE it does not answer within
	// NODE_TIMEOUT goes to node 1, and node 2 is marked down), and its failing probes keep it
	// out of rotation.
	onA, byesA, proxiedA := received(t, a, p.Addr)
	onB, _, _ := received(t, b, p.Addr)
	b.Kill()
	t.Logf("10 calls: %d to node 1, %d to node 2", onA, onB)
	if onB == 0 || onB+onA != 10 {
		t.Errorf("node 1 got %d and node 2 %d of 10 calls: not spread over both nodes", onA, onB)
	}
	if byesA != onA || proxiedA != byesA {
		t.Errorf("node 1: %d calls, %d BYEs, %d of them through the proxy (Record-Route)", onA, byesA, proxiedA)
	}
	c = carrier(t, "127.0.0.5", carrierPort, 6, p.Addr)
	if err := c.Wait(t, 60*time.Second); err != nil {
		t.Fatalf("calls after a node died: %v\n%s", err, c.Output())
	}
	waitActive(t, p, n2, false, 4*time.Second)
	if n, _, _ := received(t, a, p.Addr); n != onA+6 {
		t.Errorf("node 1 got %d calls, want %d", n, onA+6)
	}

	// Nobody but the carrier places calls.
	stranger := carrier(t, "127.0.0.6", FreeUDPPort(t, "127.0.0.6"), 1, p.Addr)
	if err := stranger.Wait(t, 30*time.Second); err == nil || !strings.Contains(p.Log(), "neither the carrier nor a node") {
		t.Errorf("a stranger's call: %v", err)
	}
}

// received is what a node received (its -trace_msg log): INVITEs, and BYEs that came through
// the proxy (its Via on top).
func received(t *testing.T, s *sipptest.Sipp, proxy string) (invites, byes, byesProxied int) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(s.Dir(), "*_messages.log"))
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n-----------------------------------------------") {
			if !strings.Contains(msg, "message received") {
				continue
			}
			switch {
			case strings.Contains(msg, "\nINVITE sip:"):
				invites++
			case strings.Contains(msg, "\nBYE sip:"):
				byes++
				if strings.Contains(msg, "\nVia: SIP/2.0/UDP "+proxy+";") {
					byesProxied++
				}
			}
		}
	}
	return invites, byes, byesProxied
}
