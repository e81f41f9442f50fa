package rtp

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// epoch0 is the origin of the pollers' horizons, on the monotonic clock.
var epoch0 = time.Now()

// MaxPacket bounds what the reader accepts; G.711 at 60 ms is 492 bytes.
const MaxPacket = 1500

// Handler receives every valid RTP packet of a socket on the socket's reader goroutine.
// payload and h are only valid during the call: they live in the reader's buffer.
type Handler interface {
	HandleRTP(h *Header, payload []byte, from netip.AddrPort, now time.Time)
}

// Socket is one leg's RTP socket. One goroutine reads it (Serve); writes may come from any
// goroutine. The peer address follows symmetric RTP: it starts as the address the SDP names
// and then latches to wherever the peer's packets actually come from.
type Socket struct {
	conn  *net.UDPConn
	port  int
	ports *Ports

	// Set when a Poller reads the socket instead of Serve.
	fd      int
	handler Handler
	poller  *Poller

	mu      sync.Mutex
	peer    netip.AddrPort
	latched bool
	closed  bool

	// Counters for tests and metrics; only the reader writes rx*.
	RxPackets, RxErrors uint64
}

func newSocket(conn *net.UDPConn, port int, p *Ports) *Socket {
	if raw, err := conn.SyscallConn(); err == nil {
		// Without the kernel's receive time a packet read late counts as arriving late.
		_ = raw.Control(func(fd uintptr) { _ = enableTimestamps(int(fd)) })
	}
	return &Socket{conn: conn, port: port, ports: p}
}

// Port is the local port, for the SDP.
func (s *Socket) Port() int { return s.port }

// SetPeer sets where to send before any packet came in (from the SDP). Once the peer's own
// packets arrived their source wins, because NATs and sipp alike send from elsewhere.
func (s *Socket) SetPeer(a netip.AddrPort) {
	s.mu.Lock()
	if !s.latched {
		s.peer = a
	}
	s.mu.Unlock()
}

// Peer is the current destination.
func (s *Socket) Peer() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peer
}

// Write sends b to the peer; it drops silently when no peer is known yet or it is on hold
// (address 0.0.0.0), because a lost media frame must never stall a call.
func (s *Socket) Write(b []byte) {
	s.mu.Lock()
	peer, closed := s.peer, s.closed
	if closed || !peer.IsValid() || peer.Addr().IsUnspecified() || peer.Port() == 0 {
		s.mu.Unlock()
		return
	}
	if s.poller != nil && peer.Addr().Is4() {
		// Under mu, so Close cannot hand the fd number to another socket meanwhile.
		sendto(s.fd, b, peer)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	_, _ = s.conn.WriteToUDPAddrPort(b, peer)
}

// Serve reads until Close, handing each RTP packet to h. It reuses one buffer and one
// Header, so a packet costs no allocation and no goroutine.
func (s *Socket) Serve(h Handler) {
	var buf [MaxPacket]byte
	var oob [64]byte
	var hdr Header
	s.handler = h
	for {
		n, oobn, _, from, err := s.conn.ReadMsgUDPAddrPort(buf[:], oob[:])
		if err != nil {
			if s.isClosed() {
				return
			}
			// ICMP port unreachable on loopback surfaces as a read error; keep reading.
			s.RxErrors++
			continue
		}
		now := time.Now()
		if ts, ok := kernelTime(oob[:oobn]); ok && ts < now.UnixNano() {
			now = now.Add(-time.Duration(now.UnixNano() - ts))
		}
		s.deliver(buf[:n], from, &hdr, now)
	}
}

// deliver parses one datagram and hands it to the handler.
func (s *Socket) deliver(b []byte, from netip.AddrPort, hdr *Header, now time.Time) {
	if IsRTCP(b) {
		return
	}
	payload, err := Parse(b, hdr)
	if err != nil {
		s.RxErrors++
		return
	}
	s.RxPackets++
	s.latch(from)
	s.handler.HandleRTP(hdr, payload, from, now)
}

func (s *Socket) latch(from netip.AddrPort) {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	s.mu.Lock()
	if !s.latched || s.peer != from {
		s.peer = from
		s.latched = true
	}
	s.mu.Unlock()
}

func (s *Socket) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops Serve and returns the port to the range. Safe to call twice.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.poller != nil {
		s.poller.remove(s)
	}
	err := s.conn.Close()
	if s.ports != nil {
		s.ports.release(s.port)
	}
	return err
}
