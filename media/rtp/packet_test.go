package rtp

import (
	"bytes"
	"testing"
)

func TestParseRoundTrip(t *testing.T) {
	h := Header{Marker: true, PayloadType: 101, Seq: 65535, Timestamp: 0xdeadbeef, SSRC: 42}
	b := make([]byte, HeaderSize+4)
	h.Put(b)
	copy(b[HeaderSize:], "abcd")
	var got Header
	p, err := Parse(b, &got)
	if err != nil || got != h || string(p) != "abcd" {
		t.Fatalf("got %+v %q %v", got, p, err)
	}
}

func TestParseCSRCExtensionPadding(t *testing.T) {
	b := []byte{
		0xb1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, // V2 P X CC=1
		1, 2, 3, 4, // CSRC
		0xbe, 0xde, 0, 1, 9, 9, 9, 9, // extension, one word
		'x', 'y', 0, 3, // payload + 3 bytes padding (last byte = 3)
	}
	var h Header
	p, err := Parse(b, &h)
	if err != nil || !bytes.Equal(p, []byte("x")) {
		t.Fatalf("payload %q err %v", p, err)
	}
}

func TestParseRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"short":   {0x80, 0},
		"version": {0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"cc":      {0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"ext":     {0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9},
		"pad0":    {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"padbig":  {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200},
	} {
		var h Header
		if _, err := Parse(b, &h); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseNoAlloc(t *testing.T) {
	b := make([]byte, HeaderSize+160)
	(&Header{PayloadType: 0}).Put(b)
	var h Header
	if n := testing.AllocsPerRun(100, func() { _, _ = Parse(b, &h) }); n != 0 {
		t.Fatalf("%v allocations per packet", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{0x80, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1, 0xff, 0xff})
	f.Add([]byte{0x80, 0xe5, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1, 0x0b, 0x8a, 0x03, 0x20})
	f.Add([]byte{0xb1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 0xbe, 0xde, 0, 1, 9, 9, 9, 9, 'x', 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		p, err := Parse(b, &h)
		if err != nil {
			return
		}
		if len(p) > len(b)-HeaderSize {
			t.Fatalf("payload %d longer than packet %d allows", len(p), len(b))
		}
		out := make([]byte, HeaderSize)
		h.Put(out)
		var h2 Header
		if _, err := Parse(out, &h2); err != nil || h2 != h {
			t.Fatalf("re-parse %+v != %+v (%v)", h2, h, err)
		}
	})
}
