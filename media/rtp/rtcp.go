package rtp

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// RTCP (RFC 3550 6): carriers and SBCs watch it and end calls that send none. Each leg sends a
// sender report with one reception report and its CNAME every few seconds and takes the
// peer's, on the RTP port when both mux (RFC 5761) or on the port above. Incoming RTCP is taken
// only from the peer's host and, with SRTP, only when it authenticates (SRTCP).

// RTCPInterval is how often a leg reports (RFC 3550 6.2's minimum for one sender).
const RTCPInterval = 5 * time.Second

// srInfo is what the last sender report from the peer said, for our LSR/DLSR fields.
type srInfo struct {
	ntpMiddle uint32
	at        time.Time
}

// SetRTCP takes the peer's RTCP from its SDP: mux (both sides put RTCP on the RTP port) or the
// port it wants RTCP on (0: the RTP port + 1).
func (s *Socket) SetRTCP(mux bool, port int) {
	s.mu.Lock()
	s.rtcpMux, s.rtcpPort = mux, port
	s.mu.Unlock()
}

// serveRTCP reads the RTCP socket until Close. One goroutine per leg is fine at one packet
// every few seconds.
func (s *Socket) serveRTCP() {
	var buf [MaxPacket]byte
	for {
		n, from, err := s.ctl.ReadFromUDPAddrPort(buf[:])
		if err != nil {
			if s.isClosed() {
				return
			}
			continue
		}
		s.handleRTCP(buf[:n], from, time.Now(), false)
	}
}

// handleRTCP takes one RTCP compound packet from the peer (on the RTP port when muxed).
// What is not RTCP at all is dropped first, whoever sent it: phones send STUN binding
// requests to both ports of the peer to open their NAT (linphone does, with no ICE in its
// SDP; RFC 7983 tells them apart by the first byte), and those are neither RTCP nor foreign
// media. SRTCP keeps the header in the clear, so the check holds for it too.
func (s *Socket) handleRTCP(b []byte, from netip.AddrPort, now time.Time, muxed bool) {
	if len(b) < 8 || b[0]>>6 != 2 || !IsRTCP(b) {
		return
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	s.mu.Lock()
	ok := s.peerHost(from.Addr(), now)
	st := s.srtp
	s.mu.Unlock()
	if !ok {
		s.Foreign.Add(1)
		return
	}
	if st != nil {
		if b = st.unprotect(b, true); b == nil {
			s.SRTPFailed.Add(1)
			return
		}
	}
	s.RTCPIn.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !muxed {
		s.rtcpPeer = from
	}
	if b[1] == 200 && len(b) >= 28 { // SR: remember its NTP time for our report's LSR
		s.lastSR = srInfo{ntpMiddle: binary.BigEndian.Uint32(b[10:14]), at: now}
	}
}

// peerHost reports whether RTCP from host is the peer's: the latched RTP source's host, or
// before RTP latched the same hosts RTP may latch to (accept): the SDP's, and within the
// learning window the signalling's. A phone whose SDP names another address than it sends
// from (its interface behind a NAT, or a second address of its host) sends RTCP from its
// real address, often before its first RTP packet. Called with s.mu held.
func (s *Socket) peerHost(host netip.Addr, now time.Time) bool {
	if s.latched {
		return host == s.peer.Addr()
	}
	if s.sdp.IsValid() && host == s.sdp.Addr() {
		return true
	}
	return !s.learnUntil.IsZero() && now.Before(s.learnUntil) && s.signal.IsValid() && host == s.signal
}

// WriteRTCP sends a compound RTCP packet to the peer (encrypted as SRTCP with SRTP). It drops
// it when no peer is known or the call is on hold at 0.0.0.0.
func (s *Socket) WriteRTCP(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	peer := s.peer
	if s.closed || !peer.IsValid() || peer.Addr().IsUnspecified() || peer.Port() == 0 {
		return
	}
	conn := s.conn
	to := peer
	if !s.rtcpMux {
		conn = s.ctl
		switch {
		case s.rtcpPeer.IsValid():
			to = s.rtcpPeer
		case s.rtcpPort > 0:
			to = netip.AddrPortFrom(peer.Addr(), uint16(s.rtcpPort))
		default:
			to = netip.AddrPortFrom(peer.Addr(), peer.Port()+1)
		}
	}
	if conn == nil {
		return
	}
	if s.srtp != nil {
		if b = s.srtp.protect(b, true); b == nil {
			return
		}
	}
	if _, err := conn.WriteToUDPAddrPort(b, to); err == nil {
		s.RTCPOut.Add(1)
	}
}

// lsr is the middle of the peer's last SR's NTP time and the delay since it came, in 1/65536 s.
func (s *Socket) lsr(now time.Time) (uint32, uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastSR.at.IsZero() {
		return 0, 0
	}
	return s.lastSR.ntpMiddle, uint32(now.Sub(s.lastSR.at) * 65536 / time.Second)
}

// RecvStats follows the stream a leg receives, for the reception report (RFC 3550 A.1, A.3,
// A.8). Update runs for every audio packet; it never allocates.
type RecvStats struct {
	SSRC                 uint32
	started              bool
	baseSeq, maxSeq      uint16
	cycles               uint32
	received             uint32
	expectedPrior        uint32
	receivedPrior        uint32
	transit              int64
	jitter               float64 // in timestamp units
	lastArrival, epochAt time.Time
}

// Update takes one received packet.
func (r *RecvStats) Update(h *Header, arrival time.Time, clockRate int) {
	if !r.started || h.SSRC != r.SSRC {
		*r = RecvStats{SSRC: h.SSRC, started: true, baseSeq: h.Seq, maxSeq: h.Seq, epochAt: arrival}
	} else if d := h.Seq - r.maxSeq; d < 0x8000 && d != 0 {
		if h.Seq < r.maxSeq {
			r.cycles += 1 << 16
		}
		r.maxSeq = h.Seq
	}
	r.received++
	// Transit time in timestamp units relative to the first packet's arrival.
	arr := int64(arrival.Sub(r.epochAt) * time.Duration(clockRate) / time.Second)
	transit := arr - int64(h.Timestamp)
	if r.received > 1 {
		d := transit - r.transit
		if d < 0 {
			d = -d
		}
		r.jitter += (float64(d) - r.jitter) / 16
	}
	r.transit = transit
	r.lastArrival = arrival
}

// Sent is what a leg sent since it began: for the sender report.
type Sent struct {
	SSRC             uint32
	Packets, Octets  uint32
	LastRTPTimestamp uint32
}

// BuildReport writes a compound RTCP packet into b: a sender report (or a receiver report
// when nothing was sent yet) with one reception block for the stream received, and an SDES
// with our CNAME (RFC 3550 6.1: every compound packet carries one). It returns the length.
func (s *Socket) BuildReport(b []byte, sent Sent, recv *RecvStats, cname string, now time.Time) int {
	blocks := 0
	if recv != nil && recv.started {
		blocks = 1
	}
	n := 0
	if sent.Packets > 0 {
		words := 6 + 6*blocks
		b[0] = 0x80 | byte(blocks)
		b[1] = 200
		binary.BigEndian.PutUint16(b[2:], uint16(words))
		binary.BigEndian.PutUint32(b[4:], sent.SSRC)
		ntp := ntpTime(now)
		binary.BigEndian.PutUint64(b[8:], ntp)
		binary.BigEndian.PutUint32(b[16:], sent.LastRTPTimestamp)
		binary.BigEndian.PutUint32(b[20:], sent.Packets)
		binary.BigEndian.PutUint32(b[24:], sent.Octets)
		n = 28
	} else {
		b[0] = 0x80 | byte(blocks)
		b[1] = 201
		binary.BigEndian.PutUint16(b[2:], uint16(1+6*blocks))
		binary.BigEndian.PutUint32(b[4:], sent.SSRC)
		n = 8
	}
	if blocks == 1 {
		n += s.reportBlock(b[n:], recv, now)
	}
	// SDES with one chunk: our SSRC, CNAME, END, padded to a 32-bit boundary.
	if len(cname) > 255 {
		cname = cname[:255]
	}
	start := n
	b[n] = 0x81
	b[n+1] = 202
	binary.BigEndian.PutUint32(b[n+4:], sent.SSRC)
	b[n+8] = 1
	b[n+9] = byte(len(cname))
	copy(b[n+10:], cname)
	m := n + 10 + len(cname)
	b[m] = 0 // END
	m++
	for (m-start)%4 != 0 {
		b[m] = 0
		m++
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16((m-start)/4-1))
	return m
}

func (s *Socket) reportBlock(b []byte, r *RecvStats, now time.Time) int {
	ext := r.cycles + uint32(r.maxSeq)
	expected := ext - uint32(r.baseSeq) + 1
	lost := int64(expected) - int64(r.received)
	if lost > 0x7fffff {
		lost = 0x7fffff
	} else if lost < -0x800000 {
		lost = -0x800000
	}
	expInt := expected - r.expectedPrior
	recInt := r.received - r.receivedPrior
	r.expectedPrior, r.receivedPrior = expected, r.received
	fraction := uint32(0)
	if lostInt := int64(expInt) - int64(recInt); expInt > 0 && lostInt > 0 {
		fraction = uint32(lostInt<<8) / expInt
	}
	lsr, dlsr := s.lsr(now)
	binary.BigEndian.PutUint32(b[0:], r.SSRC)
	binary.BigEndian.PutUint32(b[4:], fraction<<24|uint32(lost)&0xffffff)
	binary.BigEndian.PutUint32(b[8:], ext)
	binary.BigEndian.PutUint32(b[12:], uint32(r.jitter))
	binary.BigEndian.PutUint32(b[16:], lsr)
	binary.BigEndian.PutUint32(b[20:], dlsr)
	return 24
}

// ntpTime is t as a 64-bit NTP timestamp (seconds since 1900 and their fraction).
func ntpTime(t time.Time) uint64 {
	const offset = 2208988800 // 1900 to 1970
	sec := uint64(t.Unix()) + offset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return sec<<32 | frac
}
