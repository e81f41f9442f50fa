package rtp

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

type collect chan []byte

func (c collect) HandleRTP(h *Header, payload []byte, from netip.AddrPort, now time.Time) {
	c <- append([]byte(nil), payload...)
}

func TestPortsAndSymmetricRTP(t *testing.T) { symmetricRTP(t, false) }

func TestPollerSymmetricRTP(t *testing.T) { symmetricRTP(t, true) }

func symmetricRTP(t *testing.T, poll bool) {
	p := testPorts(t, 12)
	a, err := p.Open()
	if err != nil {
		t.Fatal(err)
	}
	if a.Port()%2 != 0 || p.InUse() != 1 {
		t.Fatalf("port %d in use %d", a.Port(), p.InUse())
	}
	got := make(collect, 4)
	done := make(chan struct{})
	if poll {
		poller, err := NewPoller()
		if err != nil {
			t.Skip(err)
		}
		if err := poller.Add(a, got); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		go func() { poller.Run(stop); close(done) }()
		defer close(stop)
		defer func() {
			if poller.Len() != 0 {
				t.Error("closed socket still polled")
			}
		}()
	} else {
		go func() { a.Serve(got); close(done) }()
	}

	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	a.SetPeer(netip.MustParseAddrPort("127.0.0.1:9")) // what the SDP claimed
	pkt := make([]byte, HeaderSize+3)
	(&Header{PayloadType: PCMU}).Put(pkt)
	copy(pkt[HeaderSize:], "abc")
	if _, err := peer.WriteToUDP(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: a.Port()}); err != nil {
		t.Fatal(err)
	}
	if string(<-got) != "abc" {
		t.Fatal("payload")
	}
	if want := peer.LocalAddr().(*net.UDPAddr).AddrPort(); a.Peer() != want {
		t.Fatalf("peer %v, want latched %v", a.Peer(), want)
	}
	a.Write(pkt)
	buf := make([]byte, 100)
	_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, _, err := peer.ReadFromUDP(buf); err != nil || n != len(pkt) {
		t.Fatalf("symmetric send: %d %v", n, err)
	}
	a.Close()
	if !poll {
		<-done
	}
	if p.InUse() != 0 {
		t.Fatal("port not released")
	}
}
