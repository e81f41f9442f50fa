package recorder

import (
	"encoding/binary"
	"os"
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

// TestLaggingReadersFileSpansTheCall: the packet readers fall 2 s behind (the horizon lags
// the wall clock, as on a starved machine) and then hand over the queued packets. Meanwhile
// the file on disk keeps up with the wall clock (provisional silence where packets are still
// queued), so a kill -9 at any moment leaves a file spanning the call; the packets that come
// are written in place, and the closed file holds every sample where it belongs.
func TestLaggingReadersFileSpansTheCall(t *testing.T) {
	r, path := newRec(t, Options{Stereo: true, Start: t0})
	const packets = 250 // 5 s
	put := func(k int) {
		at := t0.Add(time.Duration(k) * 20 * time.Millisecond) // the kernel's receive time
		for _, ch := range []Channel{Caller, Callee} {
			pcm := make([]int16, 160)
			for i := range pcm {
				pcm[i] = sig(ch, k*160+i)
			}
			r.Put(ch, 7+uint32(ch), uint32(1000+k*160), pcm, at)
		}
	}
	lagFrom, lagTo := t0.Add(time.Second), t0.Add(3*time.Second)
	next := 0
	for tick := 0; tick <= packets; tick++ {
		now := t0.Add(time.Duration(tick) * 20 * time.Millisecond)
		horizon := now
		if now.After(lagFrom) && now.Before(lagTo) {
			horizon = lagFrom // the readers deliver nothing after it
		}
		for ; next < packets && !t0.Add(time.Duration(next)*20*time.Millisecond).After(horizon); next++ {
			put(next)
		}
		if tick%5 == 0 {
			r.AdvanceTo(horizon, now)
			r.waitWriter()
			if now.After(lagFrom.Add(500*time.Millisecond)) && now.Before(lagTo) {
				// The file spans the call up to the wall clock less Delay, the provisional
				// margin and one writer step.
				_, pcm := readWAVFile(t, path)
				want := durationToFrames(now.Sub(t0)-120*time.Millisecond-250*time.Millisecond) - bufferFrames
				if got := int64(len(pcm) / 2); got < want {
					t.Fatalf("at %v the file holds %d frames, want at least %d", now.Sub(t0), got, want)
				}
			}
		}
	}
	res, err := r.Close(t0.Add(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.Late != [2]time.Duration{} || res.ArrivedLate != [2]time.Duration{} {
		t.Fatalf("late audio %v, arrived late %v", res.Late, res.ArrivedLate)
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

// TestLateArrivalIsTheSenders: a packet that reaches the machine after its place was made
// final counts as ArrivedLate (the sender's), one the readers held back past the horizon they
// had published counts as Late (the engine's).
func TestLateArrivalIsTheSenders(t *testing.T) {
	r, _ := newRec(t, Options{Start: t0})
	pcm := make([]int16, 160)
	for k := 0; k < 50; k++ {
		if k == 20 || k == 21 {
			continue // held back
		}
		at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		r.Put(Caller, 7, uint32(k*160), pcm, at)
		r.Advance(at)
	}
	// Packet 20 arrived on time (400 ms) but is handed over only now, after the horizon
	// passed it: the engine's fault. Packet 21 reached the machine only now: the sender's.
	now := t0.Add(time.Second)
	r.Put(Caller, 7, 20*160, pcm, t0.Add(400*time.Millisecond))
	r.Put(Caller, 7, 21*160, pcm, now)
	res, err := r.Close(now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Late[0] != 20*time.Millisecond || res.ArrivedLate[0] != 20*time.Millisecond ||
		res.LatePackets[0] != 1 || res.ArrivedLatePackets[0] != 1 {
		t.Fatalf("late %v (%d packets), arrived late %v (%d packets)", res.Late, res.LatePackets, res.ArrivedLate, res.ArrivedLatePackets)
	}
}

// readWAVFile reads a file in progress as Repair would after a crash: by its size, not by
// the header (which is rewritten only every FlushEvery).
func readWAVFile(t *testing.T, path string) (channels int, pcm []int16) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	channels, err = parseHeader(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b = b[headerSize:]
	pcm = make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return channels, pcm
}

// TestSenderPauseCountsAsArrivedLate: the sender stops for 1.5 s (longer than the 1 s jump
// tolerance) and goes on with its timestamps where it left off, while the engine reads every
// packet the moment it arrives. The file has the silence where nothing came, and the Result
// names it the sender's (ArrivedLate), not the engine's (Late).
func TestSenderPauseCountsAsArrivedLate(t *testing.T) {
	r, _ := newRec(t, Options{Stereo: true, Start: t0})
	ts := uint32(1000)
	for tick := 0; tick < 200; tick++ {
		now := t0.Add(time.Duration(tick) * 20 * time.Millisecond)
		paused := now.After(t0.Add(time.Second)) && now.Before(t0.Add(2500*time.Millisecond))
		r.Put(Callee, 8, uint32(5000+tick*160), make([]int16, 160), now)
		if !paused {
			r.Put(Caller, 7, ts, make([]int16, 160), now)
			ts += 160
		}
		r.Advance(now)
	}
	res, err := r.Close(t0.Add(4 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.Late != [2]time.Duration{} {
		t.Errorf("late %v, want none: the engine read every packet on time", res.Late)
	}
	if got := res.ArrivedLate[Caller]; got < time.Second || got > 1500*time.Millisecond {
		t.Errorf("caller's audio that arrived late %v, want the pause less the writer's delay", got)
	}
}

// The readers stop for 2.5 s (the process stopped): the rings, which start at 2 s, grow when
// the backlog lands, and nothing is lost or misplaced. A call whose readers keep up keeps the
// small rings.
func TestRingsGrowForAStoppedReader(t *testing.T) {
	r, path := newRec(t, Options{Stereo: true, Start: t0})
	const packets = 300 // 6 s
	put := func(k int) {
		at := t0.Add(time.Duration(k) * 20 * time.Millisecond) // the kernel's receive time
		for _, ch := range []Channel{Caller, Callee} {
			pcm := make([]int16, 160)
			for i := range pcm {
				pcm[i] = sig(ch, k*160+i)
			}
			r.Put(ch, 7+uint32(ch), uint32(1000+k*160), pcm, at)
		}
	}
	stopFrom, stopTo := t0.Add(time.Second), t0.Add(3500*time.Millisecond)
	next := 0
	for tick := 0; tick <= packets; tick++ {
		now := t0.Add(time.Duration(tick) * 20 * time.Millisecond)
		horizon := now
		if now.After(stopFrom) && now.Before(stopTo) {
			continue // stopped: no reader, no clock
		}
		for ; next < packets && !t0.Add(time.Duration(next)*20*time.Millisecond).After(horizon); next++ {
			put(next)
		}
		if tick == 40 && r.ringLen != ringStart {
			t.Fatalf("rings of %d frames before any stall, want %d", r.ringLen, ringStart)
		}
		if tick%5 == 0 {
			r.AdvanceTo(horizon, now)
		}
	}
	if r.ringLen != ringFrames {
		t.Errorf("rings of %d frames after a 2.5 s stop, want %d", r.ringLen, ringFrames)
	}
	res, err := r.Close(t0.Add(6 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.Late != [2]time.Duration{} || res.Overrun != [2]time.Duration{} {
		t.Errorf("late %v, overrun %v: the backlog must land", res.Late, res.Overrun)
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

// The sender pauses for 1.4 s and goes on with its timestamps (they jump by 200 ms) while the
// engine is stopped (no reads, no writes) over the pause: when the backlog is read the writer
// has not reached the pause yet. The silence is still put down to the sender (ArrivedLate),
// all of it, not to nobody.
func TestSenderPauseDuringStopCountsAsArrivedLate(t *testing.T) {
	r, path := newRec(t, Options{Stereo: true, Start: t0})
	type pkt struct {
		ch Channel
		ts uint32
		at time.Time
	}
	var queued []pkt
	ts := uint32(1000)
	wasPaused := false
	for tick := 0; tick < 250; tick++ {
		now := t0.Add(time.Duration(tick) * 20 * time.Millisecond)
		paused := now.After(t0.Add(1500*time.Millisecond)) && now.Before(t0.Add(2900*time.Millisecond))
		stopped := now.After(t0.Add(time.Second)) && now.Before(t0.Add(3100*time.Millisecond))
		queued = append(queued, pkt{Callee, uint32(5000 + tick*160), now})
		if paused && !wasPaused {
			ts += 1600
		}
		wasPaused = paused
		if !paused {
			queued = append(queued, pkt{Caller, ts, now})
			ts += 160
		}
		if stopped {
			continue
		}
		for _, q := range queued {
			pcm := make([]int16, 160)
			for i := range pcm {
				pcm[i] = 1000
			}
			r.Put(q.ch, 7+uint32(q.ch), q.ts, pcm, q.at)
		}
		queued = queued[:0]
		r.Advance(now)
	}
	res, err := r.Close(t0.Add(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.Late != [2]time.Duration{} || res.Overrun != [2]time.Duration{} {
		t.Errorf("late %v, overrun %v, want none: every packet was read before its place was final", res.Late, res.Overrun)
	}
	_, pcm := readWAV(t, path)
	l, _ := deinterleave(pcm)
	silent := 0
	for _, v := range l {
		if v == 0 {
			silent++
		}
	}
	hole := framesToDuration(int64(silent))
	if got := res.ArrivedLate[Caller]; got < hole-ms(40) || got > hole+ms(40) {
		t.Errorf("caller's silence %v in the file, put down to the sender %v", hole, got)
	}
	if hole < time.Second {
		t.Errorf("caller's silence %v, want the 1.4 s pause", hole)
	}
}

// A packet the other anchor takes re-anchors nothing, so it counts nothing: with a current
// anchor that maps the stream half a second early (left by a burst) and the previous one
// still right, a second of packets adds no late audio (it added half a second per packet).
func TestOtherAnchorsPacketsCountNothing(t *testing.T) {
	r, _ := newRec(t, Options{Stereo: true, Start: t0})
	pcm := make([]int16, 160)
	put := func(k int) {
		at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		r.Put(Caller, 7, uint32(1000+k*160), pcm, at)
		r.Put(Callee, 8, uint32(1000+k*160), pcm, at)
		r.Advance(at)
	}
	for k := 0; k < 100; k++ {
		put(k)
	}
	r.mu.Lock()
	d := &r.dir[Caller]
	good := d.anchors[d.cur]
	stale := good
	stale.nextPos -= 4000 // half a second early
	d.anchors[d.cur], d.anchors[1-d.cur] = stale, good
	r.mu.Unlock()
	for k := 100; k < 150; k++ {
		put(k)
	}
	res, err := r.Close(t0.Add(3 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.Late[Caller]+res.ArrivedLate[Caller] > 40*time.Millisecond {
		t.Errorf("late %v, arrived late %v: packets the previous anchor placed count as lost", res.Late[Caller], res.ArrivedLate[Caller])
	}
}
