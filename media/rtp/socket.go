package rtp

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// LearnWindow is how long after a leg's peer became known (its SDP) the leg may latch to a
// source other than the address its SDP names: symmetric RTP through NAT. Afterwards, and
// for any other host at any time, packets from elsewhere are dropped.
const LearnWindow = 3 * time.Second

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
// goroutine. It accepts media only from its peer: the address the SDP names, or, within
// LearnWindow after the SDP, one other source on the SDP's host or on the host the call's
// signalling came from (a NAT rewrote the port or the address). The first accepted source is
// latched: it is where we send, and every other source is dropped and counted (Foreign), so
// a host spraying the port range neither hears the call nor speaks into it. The one exception:
// within the window the exact source the SDP names takes over from a source that latched by
// its host only (a stale stream of an ended call to a port lent again).
type Socket struct {
	conn  *net.UDPConn
	port  int
	ports *Ports

	// Set when a Poller reads the socket instead of Serve.
	fd      int
	handler Handler
	poller  *Poller

	mu         sync.Mutex
	peer       netip.AddrPort // where we send
	sdp        netip.AddrPort // what the peer's SDP named (zero until known)
	signal     netip.Addr     // where the call's signalling came from (zero: unknown)
	learnUntil time.Time      // end of the latching window (zero: SDP not known yet)
	latched    bool
	closed     bool
	eventPT    int // telephone-event payload type (-1: none)
	// eventSrc is the one other source key presses are taken from (zero until latched): the
	// first port of the peer's host that sent a telephone-event.
	eventSrc netip.AddrPort
	srtp     *srtpState

	// RTCP (rtcp.go): the socket on the port above, where the peer's RTCP goes unless it muxes.
	ctl      *net.UDPConn
	rtcpMux  bool
	rtcpPort int            // the peer's RTCP port from its SDP (0: RTP port + 1)
	rtcpPeer netip.AddrPort // where the peer's RTCP came from (symmetric RTCP), once it came
	lastSR   srInfo

	// Counters for tests and metrics; only the reader writes rx*.
	RxPackets, RxErrors uint64
	// Foreign counts packets from sources other than the peer, dropped.
	Foreign atomic.Uint64
	// Relatched counts the times the SDP's own source took the leg over from another port of
	// its host within the learning window.
	Relatched atomic.Uint64
	// KernelDrops is how many datagrams the kernel dropped on this socket because its
	// receive buffer was full: what the readers lost by falling behind (as the kernel last
	// reported it with a datagram).
	KernelDrops atomic.Uint64
	// SRTPFailed counts packets that failed SRTP authentication (or replayed one), dropped.
	SRTPFailed atomic.Uint64
	// RTCPIn and RTCPOut count RTCP packets taken from the peer and sent to it.
	RTCPIn, RTCPOut atomic.Uint64
}

// noteDrops takes the kernel's drop count that came with a datagram (-1: none came).
func (s *Socket) noteDrops(n int64) {
	if n > 0 && uint64(n) > s.KernelDrops.Load() {
		s.KernelDrops.Store(uint64(n))
	}
}

func newSocket(conn, ctl *net.UDPConn, port int, p *Ports) *Socket {
	if raw, err := conn.SyscallConn(); err == nil {
		// Without the kernel's receive time a packet read late counts as arriving late.
		_ = raw.Control(func(fd uintptr) { _ = enableTimestamps(int(fd)) })
	}
	s := &Socket{conn: conn, ctl: ctl, port: port, ports: p, eventPT: -1}
	if ctl != nil {
		go s.serveRTCP()
	}
	return s
}

// Port is the local port, for the SDP.
func (s *Socket) Port() int { return s.port }

// SetPeer takes the address the peer's SDP names; until the peer's packets came (and were
// latched) it is where we send. A hold (address 0.0.0.0) stops sending to an unlatched peer
// and leaves a latched one alone; a new host (a re-INVITE moving the media) unlatches, and
// from then on only that exact address is accepted: the learning window is not reopened.
func (s *Socket) SetPeer(a netip.AddrPort) {
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.IsValid() && !a.Addr().IsUnspecified() && a.Port() != 0 {
		if s.latched && s.sdp.IsValid() && a.Addr() != s.sdp.Addr() {
			s.latched = false
			s.eventSrc = netip.AddrPort{}
		}
		s.sdp = a
		if s.learnUntil.IsZero() {
			s.learnUntil = time.Now().Add(LearnWindow)
		}
	}
	if !s.latched {
		s.peer = a
	}
}

// SetEventType names the telephone-event payload type (-1: none). Key presses of that type
// are taken from the latched peer and from one more port of its host, latched by the first
// of them that came from there: some endpoints (sipp among them) send them from another
// socket than their audio. Another party behind the same NAT address can then not press keys
// in a call whose digits already flow, nor spray ports with them. Audio stays strictly with
// the latched source.
func (s *Socket) SetEventType(pt int) {
	s.mu.Lock()
	s.eventPT = pt
	s.mu.Unlock()
}

// SetSignalling names the host the call's signalling came from: within the learning window
// its packets may latch too (a NATed caller whose SDP names its private address).
func (s *Socket) SetSignalling(a netip.Addr) {
	s.mu.Lock()
	s.signal = a.Unmap()
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
	if s.srtp != nil {
		if b = s.srtp.protect(b, false); b == nil {
			s.mu.Unlock()
			return
		}
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
		ts, drops := control(oob[:oobn])
		if ts > 0 && ts < now.UnixNano() {
			now = now.Add(-time.Duration(now.UnixNano() - ts))
		}
		s.noteDrops(drops)
		s.deliver(buf[:n], from, &hdr, now)
	}
}

// deliver parses one datagram and hands it to the handler.
func (s *Socket) deliver(b []byte, from netip.AddrPort, hdr *Header, now time.Time) {
	if IsRTCP(b) {
		s.handleRTCP(b, from, now, true)
		return
	}
	if len(b) == 0 || b[0]>>6 != 2 {
		// Not RTP: a STUN binding request of a phone opening its NAT (RFC 7983), or garbage.
		// SRTP keeps the header in the clear, so this needs no key and fails no
		// authentication.
		s.RxErrors++
		return
	}
	s.mu.Lock()
	st := s.srtp
	s.mu.Unlock()
	if st != nil {
		// Authenticated before the source is even looked at: a forged packet latches nothing.
		if b = st.unprotect(b, false); b == nil {
			s.SRTPFailed.Add(1)
			return
		}
	}
	payload, err := Parse(b, hdr)
	if err != nil {
		s.RxErrors++
		return
	}
	if !s.accept(from, now, int(hdr.PayloadType)) {
		s.Foreign.Add(1)
		return
	}
	s.RxPackets++
	s.handler.HandleRTP(hdr, payload, from, now)
}

// accept decides whether a packet from from is the peer's, latching the peer when it is the
// first acceptable source.
func (s *Socket) accept(from netip.AddrPort, now time.Time, pt int) bool {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latched {
		if from == s.peer {
			return true
		}
		// The source the SDP names takes over a host-only latch while the window is open: a
		// stream still running to this port from an ended call (a node killed and started
		// again lends its old ports anew) came from the same carrier host and latched first.
		if from == s.sdp && !s.learnUntil.IsZero() && now.Before(s.learnUntil) {
			s.peer, s.eventSrc = from, netip.AddrPort{}
			s.Relatched.Add(1)
			return true
		}
		if pt != s.eventPT || from.Addr() != s.peer.Addr() {
			return false
		}
		if !s.eventSrc.IsValid() {
			s.eventSrc = from
		}
		return from == s.eventSrc
	}
	ok := from == s.sdp
	if !ok && !s.learnUntil.IsZero() && now.Before(s.learnUntil) {
		ok = from.Addr() == s.sdp.Addr() || s.signal.IsValid() && from.Addr() == s.signal
	}
	if ok {
		s.peer, s.latched = from, true
	}
	return ok
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
	if s.ctl != nil {
		_ = s.ctl.Close()
	}
	if s.ports != nil {
		s.ports.release(s.port)
	}
	return err
}
