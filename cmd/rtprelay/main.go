// Command rtprelay is the load benchmark's baseline (scripts/bench-engine.sh): the least a
// media relay can do. For each of N calls it binds two UDP ports, base+4k (the caller's side)
// and base+4k+2 (the callee's side), and forwards every datagram that arrives on one port out
// of the other to wherever the far side last sent from (symmetric RTP), without parsing,
// decoding or recording anything. It reads the plainest way Go offers (a goroutine per socket
// on Go's network poller, one recvfrom and one sendto per datagram, buffers reused); the
// engine reads with its own epoll pollers and recvmmsg. The difference in CPU between the two
// is what the engine does on top of moving packets.
//
//	rtprelay -ip 127.0.0.1 -base 50000 -calls 1000
//
// It prints "ready" once every port is bound and runs until killed; on SIGTERM it prints the
// packets it forwarded.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

type side struct {
	conn *net.UDPConn
	mu   sync.Mutex
	peer netip.AddrPort
}

func (s *side) setPeer(a netip.AddrPort) {
	s.mu.Lock()
	s.peer = a
	s.mu.Unlock()
}

func (s *side) getPeer() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peer
}

var forwarded atomic.Uint64

// pump reads from in and writes out of out to out's latched peer.
func pump(in, out *side) {
	var buf [2048]byte
	for {
		n, from, err := in.conn.ReadFromUDPAddrPort(buf[:])
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // ICMP port unreachable on loopback surfaces here; keep reading
			continue
		}
		if in.getPeer() != from {
			in.setPeer(from)
		}
		if p := out.getPeer(); p.IsValid() {
			if _, err := out.conn.WriteToUDPAddrPort(buf[:n], p); err == nil {
				forwarded.Add(1)
			}
		}
	}
}

func main() {
	ip := flag.String("ip", "127.0.0.1", "address to bind")
	base := flag.Int("base", 50000, "first port; call k uses base+4k and base+4k+2")
	calls := flag.Int("calls", 100, "number of calls (port pairs)")
	flag.Parse()
	addr, err := netip.ParseAddr(*ip)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtprelay:", err)
		os.Exit(2)
	}
	for k := 0; k < *calls; k++ {
		var s [2]*side
		for i := range s {
			port := *base + 4*k + 2*i
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port))))
			if err != nil {
				fmt.Fprintln(os.Stderr, "rtprelay:", err)
				os.Exit(1)
			}
			s[i] = &side{conn: c}
		}
		go pump(s[0], s[1])
		go pump(s[1], s[0])
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	fmt.Printf("forwarded %d packets\n", forwarded.Load())
}
