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

// history is how many recent events the detector remembers, to recognise stragglers.
const history = 4

// RFC4733 reports each telephone-event exactly once. All packets of one event share the
// event's RTP timestamp (RFC 4733 2.5.1.2), so the detector keys on it: the first packet
// seen with a timestamp it does not know reports the digit, whatever its duration or E bit.
// That does not wait for the end packet, which may be lost, and it tolerates a first packet
// with duration 0, three repeated end packets, duplicates, and reordering within an event or
// of stragglers from the last few.
//
// Timestamps are compared for equality only, never for order: sipp replays its
// dtmf_2833_*.pcap files verbatim, so "#" then "1" arrive with timestamps 92640 then 13280,
// and pressing "1" twice sends timestamp 13280 twice. A known timestamp therefore starts a
// new press when its event had ended (E bit seen) and the packet is an early one (not E,
// duration under half the ended event's): a straggler of the old event is late in it.
//
// An event longer than the 16-bit duration allows (about 8 s at 8 kHz) is split by the
// sender into segments with new timestamps and is reported once per segment; no keypad does
// that.
//
// The zero value is ready. The caller routes packets by payload type (whatever the SDP
// names telephone-event) and uses one detector per RTP stream.
type RFC4733 struct {
	recent [history]seenEvent
	next   int // slot the next new event takes (the oldest)
}

type seenEvent struct {
	used  bool
	ended bool
	ts    uint32
	dur   uint16 // longest duration seen
}

// Feed takes one telephone-event payload and its RTP timestamp and returns the digit when
// this packet is the first seen of a new event. Malformed payloads and non-key events
// return false.
func (d *RFC4733) Feed(payload []byte, timestamp uint32) (digit byte, ok bool) {
	ev, err := ParseEvent(payload)
	if err != nil {
		return 0, false
	}
	for i := range d.recent {
		e := &d.recent[i]
		if !e.used || e.ts != timestamp {
			continue
		}
		if e.ended && !ev.End && int(ev.Duration)*2 < int(e.dur) {
			*e = seenEvent{used: true, ts: timestamp, dur: ev.Duration}
			return Digit(ev.Code)
		}
		e.ended = e.ended || ev.End
		e.dur = max(e.dur, ev.Duration)
		return 0, false
	}
	d.recent[d.next] = seenEvent{used: true, ended: ev.End, ts: timestamp, dur: ev.Duration}
	d.next = (d.next + 1) % history
	return Digit(ev.Code)
}

// Reset forgets all events, for a new stream.
func (d *RFC4733) Reset() { *d = RFC4733{} }
