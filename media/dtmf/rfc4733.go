package dtmf

import (
	"encoding/binary"
	"errors"
)

// ErrShortPayload is returned for a telephone-event payload shorter than 4 bytes.
var ErrShortPayload = errors.New("dtmf: telephone-event payload shorter than 4 bytes")

// Event is one RFC 4733 telephone-event payload (section 2.3).
type Event struct {
	Code     uint8  // 0-15 are the DTMF keys, see Digit
	End      bool   // E bit: this packet ends the event (senders repeat it three times)
	Volume   uint8  // power level in -dBm0, 0-63
	Duration uint16 // in RTP timestamp units since the event's timestamp; 0 is legal (sipp)
}

// ParseEvent decodes the first 4 bytes of payload. Trailing bytes are ignored: RFC 4733
// carries a single event per payload (several only through RFC 2198 redundancy, which has
// its own payload type).
func ParseEvent(payload []byte) (Event, error) {
	if len(payload) < 4 {
		return Event{}, ErrShortPayload
	}
	return Event{
		Code:     payload[0],
		End:      payload[1]&0x80 != 0,
		Volume:   payload[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(payload[2:4]),
	}, nil
}

// maxBackward is how far (in RTP timestamp units) a packet may lie behind the newest event
// and still count as a straggler of an event already handled. Anything further back is a
// sender that restarted its timestamps (new SSRC, re-INVITE) and starts a new event. 2^20
// units is over two minutes at 8 kHz and 20 s at 48 kHz: longer than any reordering.
const maxBackward = 1 << 20

// RFC4733 reports each telephone-event exactly once. All packets of one event share the
// event's RTP timestamp (RFC 4733 2.5.1.2), so the detector keys on it: the first packet
// seen with a newer timestamp reports the digit, whatever its duration or E bit. That does
// not wait for the end packet, which may be lost, and it tolerates a first packet with
// duration 0, three repeated end packets, duplicates, and reordering within an event or of
// stragglers from the previous one.
//
// An event longer than the 16-bit duration allows (about 8 s at 8 kHz) is split by the
// sender into segments with new timestamps and is reported once per segment; no keypad does
// that.
//
// The zero value is ready. The caller routes packets by payload type (whatever the SDP
// names telephone-event) and uses one detector per RTP stream.
type RFC4733 struct {
	have bool
	last uint32
}

// Feed takes one telephone-event payload and its RTP timestamp and returns the digit when
// this packet is the first seen of a new event. Malformed payloads and non-key events
// return false.
func (d *RFC4733) Feed(payload []byte, timestamp uint32) (digit byte, ok bool) {
	ev, err := ParseEvent(payload)
	if err != nil {
		return 0, false
	}
	if d.have {
		diff := int32(timestamp - d.last)
		if diff == 0 || (diff < 0 && diff > -maxBackward) {
			return 0, false
		}
	}
	d.have, d.last = true, timestamp
	return Digit(ev.Code)
}

// Reset forgets the last event; call it when the stream's SSRC changes, so a restarted
// timestamp sequence is never mistaken for stragglers.
func (d *RFC4733) Reset() { *d = RFC4733{} }
