package dtmf

import (
	"encoding/binary"
	"os"
	"testing"

	"callrec/internal/testtool"
)

const sippShare = "/usr/share/sip-tester/"

// sippEvents returns the RTP timestamps and payloads of one of sipp's dtmf_2833_*.pcap
// files (classic pcap, Ethernet, IPv4, UDP), exactly as sipp sends them.
func sippEvents(t *testing.T, name string) []pkt {
	t.Helper()
	b, err := os.ReadFile(sippShare + "dtmf_2833_" + name + ".pcap")
	if err != nil {
		if testtool.E2E() {
			t.Fatalf("%v (install the Debian package sip-tester)", err)
		}
		t.Skipf("%v: install the Debian package sip-tester", err)
	}
	le, be := binary.LittleEndian, binary.BigEndian
	if len(b) < 24 || le.Uint32(b) != 0xa1b2c3d4 || le.Uint32(b[20:]) != 1 {
		t.Fatalf("%s: not a little-endian Ethernet pcap", name)
	}
	var out []pkt
	for off := 24; off+16 <= len(b); {
		n := int(le.Uint32(b[off+8:]))
		frame := b[off+16 : off+16+n]
		off += 16 + n
		ip := frame[14:]
		rtp := ip[int(ip[0]&0x0F)*4+8:]
		out = append(out, pkt{p: rtp[12:], ts: be.Uint32(rtp[4:])})
	}
	return out
}

// TestRFC4733SippPcaps feeds the packets sipp really sends for its digit files, in the
// orders the product needs: '*' (caller objects), '#' then '1' (callee interrupts), a key
// pressed twice, and all twelve files.
func TestRFC4733SippPcaps(t *testing.T) {
	files := map[byte]string{'*': "star", '#': "pound"}
	for c := byte('0'); c <= '9'; c++ {
		files[c] = string(c)
	}
	for _, keys := range []string{"*", "#1", "11", "1#1", "0123456789*#", "#1#1"} {
		var d RFC4733
		var ps []pkt
		for i := range len(keys) {
			ps = append(ps, sippEvents(t, files[keys[i]])...)
		}
		if got := feedAll(&d, ps); got != keys {
			t.Errorf("keys %q: detected %q", keys, got)
		}
	}
}
