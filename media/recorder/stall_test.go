package recorder

import (
	"testing"
	"time"
)

// TestStalledReaderLosesNothing: both directions arrive in 20 ms packets; then the engine's
// reader is descheduled for 600 ms (nothing is Put while the clock goes on calling Advance,
// as on the overloaded machine of the load benchmark) and hands over the queued packets in
// one burst. Every sample still lands where its timestamp puts it: no silence, no shift.
func TestStalledReaderLosesNothing(t *testing.T) {
	r, path := newRec(t, Options{Stereo: true, Start: t0})
	const packets = 150 // 3 s
	put := func(k int, at time.Time) {
		for _, ch := range []Channel{Caller, Callee} {
			pcm := make([]int16, 160)
			for i := range pcm {
				pcm[i] = sig(ch, k*160+i)
			}
			r.Put(ch, 7+uint32(ch), uint32(1000+k*160), pcm, at)
		}
	}
	next := 0
	for tick := 0; tick <= 160; tick++ {
		now := t0.Add(time.Duration(tick) * 20 * time.Millisecond)
		stalled := now.After(t0.Add(time.Second)) && now.Before(t0.Add(1600*time.Millisecond))
		for ; !stalled && next < packets && !t0.Add(time.Duration(next)*20*time.Millisecond).After(now); next++ {
			put(next, now)
		}
		if tick%5 == 0 {
			r.Advance(now)
		}
	}
	if _, err := r.Close(t0.Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, pcm := readWAV(t, path)
	l, rr := deinterleave(pcm)
	if len(l) != packets*160 {
		t.Fatalf("%d frames, want %d", len(l), packets*160)
	}
	for i := range l {
		if l[i] != sig(Caller, i) || rr[i] != sig(Callee, i) {
			t.Fatalf("frame %d (%v): got %d/%d, want %d/%d", i, time.Duration(i)*time.Second/8000, l[i], rr[i], sig(Caller, i), sig(Callee, i))
		}
	}
}

// TestLateFirstPacketDoesNotShiftTheStream: the sender was descheduled at the start: its
// first four packets come together 70 ms late, the rest on time. The stream is placed by the
// packets that came on time, not shifted by the late first one that anchored it.
func TestLateFirstPacketDoesNotShiftTheStream(t *testing.T) {
	r, path := newRec(t, Options{Stereo: true, Start: t0})
	pcm := func(k int, ch Channel) []int16 {
		b := make([]int16, 160)
		for i := range b {
			b[i] = sig(ch, k*160+i)
		}
		return b
	}
	for k := 0; k < 50; k++ {
		at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		if k < 4 {
			at = t0.Add(70 * time.Millisecond)
		}
		r.Put(Caller, 7, uint32(1000+k*160), pcm(k, Caller), at)
		r.Put(Callee, 8, uint32(5000+k*160), pcm(k, Callee), t0.Add(time.Duration(k)*20*time.Millisecond))
		if k%5 == 0 {
			r.Advance(at)
		}
	}
	if _, err := r.Close(t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_, raw := readWAV(t, path)
	l, rr := deinterleave(raw)
	for i := 0; i < 8000; i++ {
		if l[i] != sig(Caller, i) || rr[i] != sig(Callee, i) {
			t.Fatalf("frame %d: %d/%d, want %d/%d (a stream moved)", i, l[i], rr[i], sig(Caller, i), sig(Callee, i))
		}
	}
}
