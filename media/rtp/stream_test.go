package rtp

import "testing"

func TestStreamRelayKeepsSpacingAndReanchors(t *testing.T) {
	s := NewStream()
	var h Header
	s.Generated(&h, PCMU, 160)
	if !h.Marker {
		t.Fatal("first packet needs the marker")
	}
	first := h.Timestamp
	s.Relayed(&h, PCMU, 7, 1000, 240)
	if !h.Marker || h.Timestamp != first+160 {
		t.Fatalf("switch to relay: marker %v ts %d want %d", h.Marker, h.Timestamp, first+160)
	}
	base := h.Timestamp
	s.Relayed(&h, PCMU, 7, 1000+480, 240) // one 30 ms packet lost
	if h.Marker || h.Timestamp != base+480 {
		t.Fatalf("gap: ts %d want %d", h.Timestamp, base+480)
	}
	s.Relayed(&h, PCMU, 7, 1000+240, 240) // the late one
	if h.Timestamp != base+240 {
		t.Fatalf("reordered: ts %d want %d", h.Timestamp, base+240)
	}
	s.Relayed(&h, PCMU, 9, 5, 240) // new SSRC
	if !h.Marker || h.Timestamp != base+480+240 {
		t.Fatalf("new ssrc: marker %v ts %d want %d", h.Marker, h.Timestamp, base+720)
	}
	seq := h.Seq
	s.Generated(&h, PCMA, 160)
	if !h.Marker || h.Seq != seq+1 || h.PayloadType != PCMA {
		t.Fatalf("back to generated: %+v", h)
	}
}
