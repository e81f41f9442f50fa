package dtmf

import (
	"testing"
)

func FuzzRFC4733(f *testing.F) {
	f.Add([]byte{0x01, 0x0A, 0x00, 0x00}, uint32(1000))
	f.Add([]byte{0x0B, 0x8A, 0x03, 0x20}, uint32(0xFFFFFFFF))
	f.Add([]byte{0x10, 0x00}, uint32(0))
	f.Fuzz(func(t *testing.T, p []byte, ts uint32) {
		ev, err := ParseEvent(p)
		if (err != nil) != (len(p) < 4) {
			t.Fatalf("len %d: err %v", len(p), err)
		}
		if err == nil && (ev.Volume > 63 || ev.Code != p[0]) {
			t.Fatalf("bad event %+v from % x", ev, p[:4])
		}
		var d RFC4733
		k, ok := d.Feed(p, ts)
		if ok != (err == nil && ev.Code < 16) || (ok && !Valid(k)) {
			t.Fatalf("first Feed: %q %v for %+v", k, ok, ev)
		}
		// The same event again, and its end packet, never report twice.
		if _, again := d.Feed(p, ts); again {
			t.Fatal("duplicate reported")
		}
		if len(p) >= 4 {
			end := append([]byte(nil), p[:4]...)
			end[1] |= 0x80
			if _, again := d.Feed(end, ts); again {
				t.Fatal("end packet reported")
			}
		}
	})
}

func FuzzParseInfo(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=1\r\nDuration=160\r\n"))
	f.Add("application/dtmf-relay", []byte("Signal=11\r\nDuration=250\r\n"))
	f.Add("application/dtmf", []byte("5"))
	f.Add("application/dtmf-relay; charset=\"x", []byte("signal= #\n"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		d, err := ParseInfo(ct, body)
		if (err == nil) != Valid(d) {
			t.Fatalf("ParseInfo(%q, %q) = %q, %v", ct, body, d, err)
		}
	})
}
