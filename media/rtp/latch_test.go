package rtp

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// TestStrictSourceAfterLatching: the leg latches to one source and then drops (and counts)
// packets from every other, another port of the same host included.
func TestStrictSourceAfterLatching(t *testing.T) {
	s, got := servedSocket(t)
	peer, other := udp(t, "127.0.0.1"), udp(t, "127.0.0.1")
	s.SetPeer(peer.LocalAddr().(*net.UDPAddr).AddrPort())
	send(t, peer, s)
	expect(t, got, true)
	send(t, other, s) // same host, other port: the latched peer keeps the leg
	expect(t, got, false)
	if s.Foreign.Load() != 1 || s.Peer() != peer.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("foreign %d, peer %v", s.Foreign.Load(), s.Peer())
	}
}

// TestKeyPressesFromOneMorePort: telephone-events are taken from the latched peer and from
// the first other port of its host that sends them (sipp sends digits from a second socket);
// a third port of that host (another party behind the same NAT address) presses no key, and
// audio from the events' port is dropped.
func TestKeyPressesFromOneMorePort(t *testing.T) {
	s, got := servedSocket(t)
	s.SetEventType(101)
	peer, digits, third := udp(t, "127.0.0.1"), udp(t, "127.0.0.1"), udp(t, "127.0.0.1")
	s.SetPeer(peer.LocalAddr().(*net.UDPAddr).AddrPort())
	send(t, peer, s)
	expect(t, got, true)
	sendPT(t, peer, s, 101) // from the peer itself
	expect(t, got, true)
	sendPT(t, digits, s, 101) // the first other port: latched for events
	expect(t, got, true)
	sendPT(t, digits, s, 101)
	expect(t, got, true)
	sendPT(t, third, s, 101)
	expect(t, got, false)
	send(t, digits, s) // audio stays with the peer
	expect(t, got, false)
	if s.Foreign.Load() != 2 {
		t.Fatalf("foreign %d, want 2", s.Foreign.Load())
	}
}

// TestLatchingOnlyWithinLearningWindow: a NAT's other port of the SDP's host is taken while
// the window is open, not after it.
func TestLatchingOnlyWithinLearningWindow(t *testing.T) {
	for _, open := range []bool{true, false} {
		s, got := servedSocket(t)
		nat := udp(t, "127.0.0.1")
		s.SetPeer(netip.MustParseAddrPort("127.0.0.1:9")) // what the SDP claimed
		if !open {
			s.mu.Lock()
			s.learnUntil = time.Now().Add(-time.Millisecond)
			s.mu.Unlock()
		}
		send(t, nat, s)
		expect(t, got, open)
		if !open && s.Foreign.Load() != 1 {
			t.Fatalf("after the window: foreign %d", s.Foreign.Load())
		}
	}
}

// TestOtherHostNeverLatches: a host that is neither the SDP's nor the signalling's cannot take
// the leg, even first and inside the learning window (the RTP bleed attack); the signalling
// host can (a NATed caller whose SDP names its private address).
func TestOtherHostNeverLatches(t *testing.T) {
	s, got := servedSocket(t)
	attacker := udp(t, "127.0.0.2")
	s.SetPeer(netip.MustParseAddrPort("10.1.2.3:4000")) // a private address behind the NAT
	s.SetSignalling(netip.MustParseAddr("127.0.0.1"))
	send(t, attacker, s)
	expect(t, got, false)
	nat := udp(t, "127.0.0.1")
	send(t, nat, s)
	expect(t, got, true)
	if s.Peer() != nat.LocalAddr().(*net.UDPAddr).AddrPort() || s.Foreign.Load() != 1 {
		t.Fatalf("peer %v foreign %d", s.Peer(), s.Foreign.Load())
	}
}

// TestPortsAreRandom: consecutive calls do not get consecutive ports.
func TestPortsAreRandom(t *testing.T) {
	p := testPorts(t, 2000)
	prev, ordered := -1, 0
	for range 20 {
		s, err := p.Open()
		if err != nil {
			t.Fatal(err)
		}
		if s.Port() == prev+2 {
			ordered++
		}
		prev = s.Port()
		s.Close()
	}
	if ordered > 3 {
		t.Fatalf("%d of 20 ports followed the previous one", ordered)
	}
	// A released port is not lent again at once while others are free.
	s, _ := p.Open()
	port := s.Port()
	s.Close()
	for range 50 {
		s, err := p.Open()
		if err != nil {
			t.Fatal(err)
		}
		if s.Port() == port {
			t.Fatal("a port just released was lent again")
		}
		defer s.Close()
	}
}

// testPorts lends from a random range of n ports that are free now: other packages' tests
// (engines, sipp) bind ports on this machine at the same time.
func testPorts(t *testing.T, n int) *Ports {
	t.Helper()
	for range 50 {
		lo := 20000 + 2*rand.IntN((60000-20000-n)/2)
		free := true
		for port := lo; port < lo+n && free; port += 2 {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
			if err != nil {
				free = false
				break
			}
			c.Close()
		}
		if free {
			p, err := NewPorts(netip.MustParseAddr("127.0.0.1"), lo, lo+n-1)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	t.Fatal("no free port range")
	return nil
}

func servedSocket(t *testing.T) (*Socket, collect) {
	t.Helper()
	p := testPorts(t, 100)
	s, err := p.Open()
	if err != nil {
		t.Fatal(err)
	}
	got := make(collect, 4)
	go s.Serve(got)
	t.Cleanup(func() { s.Close() })
	return s, got
}

func udp(t *testing.T, host string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		if testtool.E2E() {
			t.Fatalf("cannot bind %s: %v", host, err)
		}
		t.Skipf("cannot bind %s: %v", host, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, from *net.UDPConn, to *Socket) {
	t.Helper()
	sendPT(t, from, to, PCMU)
}

func sendPT(t *testing.T, from *net.UDPConn, to *Socket, pt uint8) {
	t.Helper()
	pkt := make([]byte, HeaderSize+3)
	(&Header{PayloadType: pt}).Put(pkt)
	copy(pkt[HeaderSize:], "abc")
	if _, err := from.WriteToUDP(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: to.Port()}); err != nil {
		t.Fatal(err)
	}
}

func expect(t *testing.T, got collect, delivered bool) {
	t.Helper()
	select {
	case <-got:
		if !delivered {
			t.Fatal("packet delivered, want dropped")
		}
	case <-time.After(300 * time.Millisecond):
		if delivered {
			t.Fatal("packet dropped, want delivered")
		}
	}
}

// TestSDPSourceTakesOverAStaleStream: a stream of an ended call still running to a port lent
// again comes from the new peer's host and latches first; once the source the SDP names sends,
// within the learning window, the leg is the SDP source's and the stale stream is foreign.
// After the window nobody takes the leg over.
func TestSDPSourceTakesOverAStaleStream(t *testing.T) {
	s, got := servedSocket(t)
	stale, real := udp(t, "127.0.0.1"), udp(t, "127.0.0.1")
	realAddr := real.LocalAddr().(*net.UDPAddr).AddrPort()
	s.SetPeer(realAddr)
	send(t, stale, s) // first: latched by its host
	expect(t, got, true)
	send(t, real, s)
	expect(t, got, true)
	send(t, stale, s)
	expect(t, got, false)
	if s.Peer() != realAddr || s.Relatched.Load() != 1 || s.Foreign.Load() != 1 {
		t.Fatalf("peer %v (want %v), relatched %d, foreign %d", s.Peer(), realAddr, s.Relatched.Load(), s.Foreign.Load())
	}

	s2, got2 := servedSocket(t)
	nat, late := udp(t, "127.0.0.1"), udp(t, "127.0.0.1")
	s2.SetPeer(late.LocalAddr().(*net.UDPAddr).AddrPort())
	send(t, nat, s2)
	expect(t, got2, true)
	s2.mu.Lock()
	s2.learnUntil = time.Now().Add(-time.Millisecond)
	s2.mu.Unlock()
	send(t, late, s2) // the window is over: the latched source keeps the leg
	expect(t, got2, false)
	if s2.Peer() != nat.LocalAddr().(*net.UDPAddr).AddrPort() || s2.Relatched.Load() != 0 {
		t.Fatalf("after the window: peer %v relatched %d", s2.Peer(), s2.Relatched.Load())
	}
}
