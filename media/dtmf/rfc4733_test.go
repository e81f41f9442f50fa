package dtmf

import (
	"encoding/binary"
	"errors"
	"testing"
)

func payload(code uint8, end bool, vol uint8, dur uint16) []byte {
	p := []byte{code, vol & 0x3F, 0, 0}
	if end {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], dur)
	return p
}

type pkt struct {
	p  []byte
	ts uint32
}

// event produces the packets sipp sends for one key: first with duration 0, one every
// 20 ms, the end packet three times.
func event(code uint8, ts uint32, packets int) []pkt {
	var out []pkt
	for i := range packets {
		out = append(out, pkt{payload(code, false, 10, uint16(i*160)), ts})
	}
	for range 3 {
		out = append(out, pkt{payload(code, true, 10, uint16(packets*160)), ts})
	}
	return out
}

func feedAll(d *RFC4733, ps []pkt) string {
	var got []byte
	for _, p := range ps {
		if k, ok := d.Feed(p.p, p.ts); ok {
			got = append(got, k)
		}
	}
	return string(got)
}

func TestParseEvent(t *testing.T) {
	ev, err := ParseEvent([]byte{0x0B, 0x8A, 0x03, 0x20, 0xFF})
	if err != nil {
		t.Fatal(err)
	}
	if ev != (Event{Code: 11, End: true, Volume: 10, Duration: 800}) {
		t.Fatalf("got %+v", ev)
	}
	ev, _ = ParseEvent([]byte{0x03, 0x7F, 0, 0}) // R bit set: not part of volume
	if ev.Volume != 63 || ev.End {
		t.Fatalf("got %+v", ev)
	}
	if _, err := ParseEvent([]byte{1, 2, 3}); !errors.Is(err, ErrShortPayload) {
		t.Fatalf("short payload: %v", err)
	}
}

func TestDigitMap(t *testing.T) {
	for code := range 256 {
		d, ok := Digit(uint8(code))
		if code < 16 != ok {
			t.Fatalf("code %d ok=%v", code, ok)
		}
		if ok && (d != "0123456789*#ABCD"[code] || !Valid(d)) {
			t.Fatalf("code %d -> %q", code, d)
		}
	}
}

func TestRFC4733Sequence(t *testing.T) {
	var ps []pkt
	ps = append(ps, event(1, 1000, 5)...)
	ps = append(ps, event(11, 3000, 4)...)
	ps = append(ps, event(1, 5000, 4)...) // same key again: new timestamp, new press
	ps = append(ps, event(10, 7000, 1)...)
	ps = append(ps, event(15, 9000, 1)...)
	var d RFC4733
	if got := feedAll(&d, ps); got != "1#1*D" {
		t.Fatalf("got %q", got)
	}
}

func TestRFC4733Loss(t *testing.T) {
	var d RFC4733
	// Only the last end packet of the first event survives; the second loses its end packets.
	ps := event(5, 100, 4)[6:]
	ps = append(ps, event(6, 900, 4)[:2]...)
	if got := feedAll(&d, ps); got != "56" {
		t.Fatalf("got %q", got)
	}
}

func TestRFC4733ReorderAndDuplicates(t *testing.T) {
	a, b := event(2, 4000, 4), event(3, 4800, 4)
	ps := []pkt{a[1], a[0], a[1], a[3], a[2], b[0], a[5], a[4], a[6], b[2], b[1], b[1], b[6], b[5]}
	var d RFC4733
	if got := feedAll(&d, ps); got != "23" {
		t.Fatalf("got %q", got)
	}
}

func TestRFC4733TimestampsInAnyOrder(t *testing.T) {
	var d RFC4733
	// sipp's pcaps: '#' at 92640, then '1' at 13280, then stragglers of '#'.
	ps := append(event(11, 92640, 7), event(1, 13280, 7)...)
	ps = append(ps, event(11, 92640, 7)[7:]...)
	ps = append(ps, event(7, 0xFFFFFF00, 2)...)
	ps = append(ps, event(8, 0x200, 2)...)
	ps = append(ps, event(7, 0xFFFFFF00, 2)[3:]...) // stragglers across the wrap
	if got := feedAll(&d, ps); got != "#178" {
		t.Fatalf("got %q", got)
	}
}

func TestRFC4733SameTimestampReplayed(t *testing.T) {
	// Pressing '1' three times with sipp replays the same pcap: same timestamp each time.
	var d RFC4733
	var ps []pkt
	for range 3 {
		ps = append(ps, event(1, 13280, 7)...)
	}
	// A replay whose first packet is lost still counts (second packet, early in the event).
	ps = append(ps, event(1, 13280, 7)[1:]...)
	if got := feedAll(&d, ps); got != "1111" {
		t.Fatalf("got %q", got)
	}
	// But a late straggler from the end of an ended event does not.
	d.Reset()
	a := event(5, 800, 7)
	ps = []pkt{a[0], a[1], a[2], a[3], a[4], a[5], a[7], a[8], a[6], a[9]}
	if got := feedAll(&d, ps); got != "5" {
		t.Fatalf("straggler: got %q", got)
	}
}

func TestRFC4733Reset(t *testing.T) {
	var d RFC4733
	if got := feedAll(&d, event(4, 100, 2)); got != "4" {
		t.Fatalf("got %q", got)
	}
	if _, ok := d.Feed(payload(4, false, 0, 160), 100); ok {
		t.Fatal("same event reported twice")
	}
	d.Reset()
	if k, ok := d.Feed(payload(4, false, 0, 160), 100); !ok || k != '4' {
		t.Fatalf("after Reset: %q %v", k, ok)
	}
}

func TestRFC4733IgnoresNonKeys(t *testing.T) {
	var d RFC4733
	ps := append(event(16, 100, 2), event(0, 900, 2)...) // flash, then '0'
	ps = append(ps, pkt{[]byte{1, 2}, 2000})             // malformed
	if got := feedAll(&d, ps); got != "0" {
		t.Fatalf("got %q", got)
	}
}

func BenchmarkRFC4733Feed(b *testing.B) {
	var d RFC4733
	p := payload(5, false, 10, 160)
	var ts uint32
	for i := 0; b.Loop(); i++ {
		if i%8 == 0 {
			ts += 1600
		}
		d.Feed(p, ts)
	}
}
