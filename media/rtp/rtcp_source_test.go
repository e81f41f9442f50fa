package rtp

import (
	"net/netip"
	"testing"
	"time"
)

// TestRTCPSourcesFollowTheLatchingRule: RTCP is taken from the hosts RTP may latch to (the
// SDP's, and within the learning window the signalling's), then only from the latched host;
// STUN binding requests (a phone opening its NAT) are dropped without counting as foreign.
func TestRTCPSourcesFollowTheLatchingRule(t *testing.T) {
	s := &Socket{eventPT: -1}
	s.SetSignalling(netip.MustParseAddr("127.0.0.1"))
	s.SetPeer(netip.MustParseAddrPort("192.0.2.2:4000")) // the SDP names another address
	start := time.Now()
	rr := []byte{0x80, 201, 0, 1, 0, 0, 0, 1}
	stun := []byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	step := func(name string, b []byte, from string, at time.Time, in, foreign uint64) {
		t.Helper()
		s.handleRTCP(b, netip.MustParseAddrPort(from), at, false)
		if s.RTCPIn.Load() != in || s.Foreign.Load() != foreign {
			t.Fatalf("%s: RTCP in %d foreign %d, want %d and %d", name, s.RTCPIn.Load(), s.Foreign.Load(), in, foreign)
		}
	}
	step("STUN from anyone", stun, "198.51.100.7:4001", start, 0, 0)
	step("RTCP from the signalling host in the window", rr, "127.0.0.1:4001", start, 1, 0)
	step("RTCP from the SDP's host", rr, "192.0.2.2:4001", start, 2, 0)
	step("RTCP from a stranger", rr, "198.51.100.7:4001", start, 2, 1)
	late := start.Add(LearnWindow + time.Second)
	step("RTCP from the signalling host after the window", rr, "127.0.0.1:4001", late, 2, 2)

	if !s.accept(netip.MustParseAddrPort("127.0.0.1:4000"), start, int(PCMU)) {
		t.Fatal("RTP from the signalling host did not latch in the window")
	}
	step("RTCP from the latched host", rr, "127.0.0.1:4001", late, 3, 2)
	step("RTCP from the SDP's host once another latched", rr, "192.0.2.2:4001", late, 3, 3)
}

// TestSTUNOnTheRTPPortFailsNoAuthentication: a STUN binding request on an SRTP leg's RTP port
// is not RTP: dropped as such, before SRTP could count it as a failed authentication.
func TestSTUNOnTheRTPPortFailsNoAuthentication(t *testing.T) {
	s := &Socket{eventPT: -1}
	if err := s.SetSRTP("AES_CM_128_HMAC_SHA1_80", key(t), key(t)); err != nil {
		t.Fatal(err)
	}
	stun := []byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	s.deliver(stun, netip.MustParseAddrPort("127.0.0.1:4000"), &Header{}, time.Now())
	if s.SRTPFailed.Load() != 0 || s.Foreign.Load() != 0 || s.RxErrors != 1 {
		t.Fatalf("SRTP failed %d, foreign %d, errors %d", s.SRTPFailed.Load(), s.Foreign.Load(), s.RxErrors)
	}
}
