// Package rtp holds the engine's media transport: RTP header parsing and writing without
// allocation, UDP sockets from a port range with one reader goroutine each, outgoing stream
// state, and one pacing clock shared by all calls.
package rtp

import (
	"encoding/binary"
	"errors"
)

// HeaderSize is the fixed RTP header without CSRCs or extension.
const HeaderSize = 12

// Payload types the engine speaks; telephone-event has no static type.
const (
	PCMU uint8 = 0
	PCMA uint8 = 8
)

var (
	ErrShort   = errors.New("rtp: packet too short")
	ErrVersion = errors.New("rtp: not version 2")
	ErrPadding = errors.New("rtp: bad padding")
)

// Header is the part of an RTP header the engine uses. CSRCs and extensions are skipped.
type Header struct {
	Marker      bool
	PayloadType uint8
	Seq         uint16
	Timestamp   uint32
	SSRC        uint32
}

// Parse fills h from b and returns the payload, a sub-slice of b. It never allocates, so the
// reader goroutines can call it for every packet.
func Parse(b []byte, h *Header) ([]byte, error) {
	if len(b) < HeaderSize {
		return nil, ErrShort
	}
	if b[0]>>6 != 2 {
		return nil, ErrVersion
	}
	padding := b[0]&0x20 != 0
	extension := b[0]&0x10 != 0
	cc := int(b[0] & 0x0f)
	h.Marker = b[1]&0x80 != 0
	h.PayloadType = b[1] & 0x7f
	h.Seq = binary.BigEndian.Uint16(b[2:])
	h.Timestamp = binary.BigEndian.Uint32(b[4:])
	h.SSRC = binary.BigEndian.Uint32(b[8:])
	off := HeaderSize + 4*cc
	if len(b) < off {
		return nil, ErrShort
	}
	if extension {
		if len(b) < off+4 {
			return nil, ErrShort
		}
		words := int(binary.BigEndian.Uint16(b[off+2:]))
		off += 4 + 4*words
		if len(b) < off {
			return nil, ErrShort
		}
	}
	end := len(b)
	if padding {
		pad := int(b[end-1])
		if pad == 0 || end-pad < off {
			return nil, ErrPadding
		}
		end -= pad
	}
	return b[off:end], nil
}

// Put writes h as a 12-byte header at the start of b (which must hold at least HeaderSize bytes)
// and returns HeaderSize.
func (h *Header) Put(b []byte) int {
	_ = b[HeaderSize-1]
	b[0] = 0x80
	b[1] = h.PayloadType & 0x7f
	if h.Marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], h.Seq)
	binary.BigEndian.PutUint32(b[4:], h.Timestamp)
	binary.BigEndian.PutUint32(b[8:], h.SSRC)
	return HeaderSize
}

// IsRTCP tells RTCP (payload type 72-76 with the marker bit: 200-204) from RTP on a muxed port.
func IsRTCP(b []byte) bool {
	return len(b) >= 2 && b[1] >= 192 && b[1] <= 223
}
