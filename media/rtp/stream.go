package rtp

import (
	"crypto/rand"
	"encoding/binary"
)

// Stream is the state of one outgoing RTP stream: our SSRC, sequence and timestamp. The
// engine re-stamps everything it sends with it, so a leg's receiver sees one continuous
// stream whether the audio is a prompt, a tone or the other party relayed.
type Stream struct {
	SSRC uint32
	seq  uint16
	ts   uint32

	// Relay anchoring: where the last relayed packet came from.
	srcSSRC  uint32
	srcTS    uint32
	lastLen  int
	relaying bool
	started  bool
}

// NewStream returns a stream with a random SSRC, sequence and timestamp (RFC 3550 5.1).
func NewStream() Stream {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return Stream{
		SSRC: binary.BigEndian.Uint32(b[0:]),
		seq:  binary.BigEndian.Uint16(b[4:]),
		ts:   binary.BigEndian.Uint32(b[6:]),
	}
}

// Generated stamps a frame of samples the engine produced itself (prompt, tone, silence).
func (s *Stream) Generated(h *Header, pt uint8, samples int) {
	h.Marker = s.relaying || !s.started
	s.relaying = false
	s.started = true
	s.stamp(h, pt)
	s.ts += uint32(samples)
}

// Relayed stamps a packet forwarded from another leg. It keeps the source's timestamp
// spacing (so a receiver's jitter buffer sees the real gaps of lost packets) and re-anchors
// with a marker bit when the source changes SSRC, jumps, or we switch from generated audio.
func (s *Stream) Relayed(h *Header, pt uint8, srcSSRC, srcTS uint32, samples int) {
	delta := int32(srcTS - s.srcTS)
	continuous := s.relaying && srcSSRC == s.srcSSRC && delta > -8000 && delta <= 8000
	if !continuous {
		h.Marker = true
		s.stamp(h, pt)
		s.ts += uint32(samples)
		s.srcSSRC, s.srcTS = srcSSRC, srcTS
		s.lastLen = samples
		s.relaying, s.started = true, true
		return
	}
	h.Marker = false
	// s.ts is the timestamp following the last packet; the source's spacing is kept relative
	// to that packet, reordered packets land behind it.
	last := s.ts - uint32(s.lastLen)
	h.PayloadType = pt
	h.SSRC = s.SSRC
	h.Seq = s.seq
	s.seq++
	h.Timestamp = last + uint32(delta)
	if delta > 0 {
		s.ts = h.Timestamp + uint32(samples)
		s.srcTS = srcTS
		s.lastLen = samples
	}
}

func (s *Stream) stamp(h *Header, pt uint8) {
	h.PayloadType = pt
	h.SSRC = s.SSRC
	h.Seq = s.seq
	h.Timestamp = s.ts
	s.seq++
}

// Timestamp is the RTP timestamp the stream's next packet starts at (for RTCP sender reports).
func (s *Stream) Timestamp() uint32 { return s.ts }
