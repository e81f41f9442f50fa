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

func TestRFC4733Wrap(t *testing.T) {
	var d RFC4733
	ps := append(event(7, 0xFFFFFF00, 2), event(8, 0x200, 2)...)
	ps = append(ps, event(7, 0xFFFFFF00, 2)...) // stragglers across the wrap
	if got := feedAll(&d, ps); got != "78" {
		t.Fatalf("got %q", got)
	}
}

func TestRFC4733RestartAndReset(t *testing.T) {
	var d RFC4733
	// A sender restarting far behind is a new stream, not stragglers.
	ps := append(event(4, 0x80000000, 2), event(9, 0x10, 2)...)
	if got := feedAll(&d, ps); got != "49" {
		t.Fatalf("got %q", got)
	}
	// Just behind: ignored until Reset says the stream changed.
	if _, ok := d.Feed(payload(1, false, 0, 0), 0x08); ok {
		t.Fatal("straggler reported")
	}
	d.Reset()
	if k, ok := d.Feed(payload(1, false, 0, 0), 0x08); !ok || k != '1' {
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
