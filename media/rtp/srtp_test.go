package rtp

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
)

func key(t *testing.T) []byte {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return b
}

// TestSRTPBetweenTwoSockets: what one socket sends with SRTP arrives decrypted at the other;
// the wire carries no plaintext; a packet under another key is dropped and counted, and
// neither latches nor reaches the handler; RTCP goes as SRTCP to the port above.
func TestSRTPBetweenTwoSockets(t *testing.T) {
	a, _ := servedSocket(t)
	b, got := servedSocket(t)
	ka, kb := key(t), key(t)
	if err := a.SetSRTP("AES_CM_128_HMAC_SHA1_80", ka, kb); err != nil {
		t.Fatal(err)
	}
	if err := b.SetSRTP("AES_CM_128_HMAC_SHA1_80", kb, ka); err != nil {
		t.Fatal(err)
	}
	b.SetPeer(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(a.Port())))
	a.SetPeer(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(b.Port())))

	pkt := make([]byte, HeaderSize+160)
	(&Header{PayloadType: PCMU, Seq: 7, Timestamp: 1000, SSRC: 42}).Put(pkt)
	copy(pkt[HeaderSize:], bytes.Repeat([]byte("voice"), 32))
	a.Write(pkt)
	select {
	case <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("SRTP packet not delivered")
	}
	if b.SRTPFailed.Load() != 0 {
		t.Fatalf("authentication failures %d", b.SRTPFailed.Load())
	}

	// A sender with the right address but the wrong key: dropped, counted, not latched.
	forger := udp(t, "127.0.0.1")
	c := &Socket{eventPT: -1}
	if err := c.SetSRTP("AES_CM_128_HMAC_SHA1_80", key(t), key(t)); err != nil {
		t.Fatal(err)
	}
	enc := append([]byte(nil), c.srtp.protect(pkt, false)...)
	if _, err := forger.WriteToUDP(enc, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: b.Port()}); err != nil {
		t.Fatal(err)
	}
	expect(t, got, false)
	if b.SRTPFailed.Load() != 1 {
		t.Fatalf("forged packet: failures %d", b.SRTPFailed.Load())
	}

	// RTCP: a sender report from a to b's RTCP port, authenticated and counted there.
	var rep [256]byte
	n := a.BuildReport(rep[:], Sent{SSRC: 42, Packets: 1, Octets: 160, LastRTPTimestamp: 1000}, nil, "callrec", time.Now())
	a.WriteRTCP(rep[:n])
	deadline := time.Now().Add(2 * time.Second)
	for b.RTCPIn.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if b.RTCPIn.Load() != 1 || a.RTCPOut.Load() != 1 {
		t.Fatalf("RTCP in %d out %d", b.RTCPIn.Load(), a.RTCPOut.Load())
	}
}

// TestReportLayout: the compound packet is a valid SR with one reception block and an SDES
// whose lengths add up (RFC 3550 6.4.1, 6.5).
func TestReportLayout(t *testing.T) {
	s := &Socket{}
	var r RecvStats
	now := time.Now()
	for i := 0; i < 50; i++ {
		if i == 10 {
			continue // one lost
		}
		seq := uint16(65530) + uint16(i)
		r.Update(&Header{SSRC: 9, Seq: seq, Timestamp: uint32(160 * i)}, now.Add(time.Duration(i)*20*time.Millisecond), 8000)
	}
	var b [256]byte
	n := s.BuildReport(b[:], Sent{SSRC: 1, Packets: 10, Octets: 1600}, &r, "x@callrec", now)
	if b[1] != 200 || b[0]&0x1f != 1 {
		t.Fatalf("not an SR with one block: % x", b[:8])
	}
	srLen := (int(binary.BigEndian.Uint16(b[2:])) + 1) * 4
	if srLen != 52 || b[srLen+1] != 202 {
		t.Fatalf("SR length %d, next type %d", srLen, b[srLen+1])
	}
	sdesLen := (int(binary.BigEndian.Uint16(b[srLen+2:])) + 1) * 4
	if srLen+sdesLen != n || n%4 != 0 {
		t.Fatalf("lengths %d+%d != %d", srLen, sdesLen, n)
	}
	block := b[28:52]
	if lost := binary.BigEndian.Uint32(block[4:]) & 0xffffff; lost != 1 {
		t.Fatalf("cumulative lost %d", lost)
	}
	if ext := binary.BigEndian.Uint32(block[8:]); ext != 1<<16+49-6 {
		t.Fatalf("extended highest sequence %#x", ext)
	}
}
