package recorder

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// readWAV reads a file the way a player would: trusting the header's data size.
func readWAV(t *testing.T, path string) (channels int, pcm []int16) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	channels, err = parseHeader(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	le := binary.LittleEndian
	riff, data := int(le.Uint32(b[4:])), int(le.Uint32(b[40:]))
	if riff != 36+data+data&1 {
		t.Fatalf("RIFF size %d for data size %d", riff, data)
	}
	if headerSize+data > len(b) {
		t.Fatalf("header declares %d data bytes, file has %d", data, len(b)-headerSize)
	}
	pcm = make([]int16, data/2)
	for i := range pcm {
		pcm[i] = int16(le.Uint16(b[headerSize+2*i:]))
	}
	return channels, pcm
}

// deinterleave splits a stereo file into caller and callee.
func deinterleave(pcm []int16) (l, r []int16) {
	for i := 0; i+1 < len(pcm); i += 2 {
		l, r = append(l, pcm[i]), append(r, pcm[i+1])
	}
	return l, r
}

func newRec(t *testing.T, opt Options) (*Recorder, string) {
	t.Helper()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	r, rel, err := Create(root, "call_recording/337826/4971121843140", "rec_test", opt)
	if err != nil {
		t.Fatal(err)
	}
	return r, filepath.Join(dir, filepath.FromSlash(rel))
}

// sig is the sample a direction sends at stream position p: distinct per channel and per
// position, never zero, so the tests can tell where every sample landed.
func sig(ch Channel, p int) int16 {
	v := int16(1 + p%15000)
	if ch == Callee {
		return -v
	}
	return v
}

// event is something happening at a wall-clock time in a simulated call.
type event struct {
	at   time.Time
	put  *packet
	tick bool
}

type packet struct {
	ch   Channel
	ssrc uint32
	ts   uint32
	pcm  []int16
	pos  int // stream position of the first sample
}

// stream describes one direction's packets: frames of size samples from stream position
// from to to, first sent at wall-clock offset begin.
type stream struct {
	ch          Channel
	ssrc        uint32
	tsBase      uint32
	begin       time.Duration
	size        int
	packets     int
	loss        float64
	jitter      time.Duration
	dupEvery    int // every n-th packet is sent twice (0: never)
	firstOnTime bool
}

// run simulates a call: packets as described, Advance every 20 ms, Close at end. It returns
// which packets were delivered per direction, keyed by stream position.
func run(t *testing.T, r *Recorder, end time.Duration, rng *rand.Rand, streams ...stream) map[Channel]map[int]bool {
	t.Helper()
	var evs []event
	got := map[Channel]map[int]bool{}
	for _, s := range streams {
		got[s.ch] = map[int]bool{}
		for k := range s.packets {
			if rng.Float64() < s.loss && !(k == 0 && s.firstOnTime) {
				continue
			}
			pcm := make([]int16, s.size)
			for i := range pcm {
				pcm[i] = sig(s.ch, k*s.size+i)
			}
			p := &packet{s.ch, s.ssrc, s.tsBase + uint32(k*s.size), pcm, k * s.size}
			copies := 1
			if s.dupEvery > 0 && k%s.dupEvery == 0 {
				copies = 2
			}
			for range copies {
				j := time.Duration(rng.Int64N(int64(s.jitter) + 1))
				if k == 0 && s.firstOnTime {
					j = 0
				}
				at := t0.Add(s.begin + time.Duration(k*s.size)*time.Second/SampleRate + j)
				evs = append(evs, event{at: at, put: p})
			}
		}
	}
	for tick := time.Duration(0); tick <= end; tick += 20 * time.Millisecond {
		evs = append(evs, event{at: t0.Add(tick), tick: true})
	}
	slices.SortStableFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })
	for _, e := range evs {
		if e.at.After(t0.Add(end)) {
			break
		}
		if e.tick {
			r.Advance(e.at)
		} else {
			r.Put(e.put.ch, e.put.ssrc, e.put.ts, e.put.pcm, e.at)
			got[e.put.ch][e.put.pos] = true
		}
	}
	return got
}

// check verifies a channel: where a packet was delivered its samples sit at begin+position,
// everything else is digital silence.
func check(t *testing.T, name string, ch Channel, got []int16, s stream, delivered map[int]bool) {
	t.Helper()
	want := make([]int16, len(got))
	off := int(durationToFrames(s.begin))
	for k := range s.packets {
		if !delivered[k*s.size] {
			continue
		}
		for i := range s.size {
			if p := off + k*s.size + i; p >= 0 && p < len(want) {
				want[p] = sig(ch, k*s.size+i)
			}
		}
	}
	bad := 0
	for i := range want {
		if got[i] != want[i] {
			if bad < 5 {
				t.Errorf("%s: frame %d: got %d, want %d", name, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d frames wrong", name, bad, len(want))
	}
}

func TestTimelineLossJitterReorderDuplicates(t *testing.T) {
	r, path := newRec(t, Options{Stereo: true, Start: t0})
	rng := rand.New(rand.NewPCG(7, 8))
	// The end is not on a packet boundary: the length must still be exact. The caller's
	// timestamps wrap after 26 packets.
	end := ms(6012.34)
	caller := stream{ch: Caller, ssrc: 0x1111, tsBase: 0xFFFFF000, begin: 0, size: 160, packets: 300,
		loss: 0.05, jitter: ms(60), dupEvery: 7, firstOnTime: true}
	callee := stream{ch: Callee, ssrc: 0x2222, tsBase: 12345, begin: ms(500), size: 240, packets: 180,
		loss: 0.05, jitter: ms(60), dupEvery: 5, firstOnTime: true} // sipp-style 30 ms packets
	got := run(t, r, end, rng, caller, callee)
	res, err := r.Close(t0.Add(end))
	if err != nil {
		t.Fatal(err)
	}
	wantFrames := int64(48099) // round(6.01234 s * 8000) = round(48098.72)
	if res.Frames != wantFrames || res.Duration != framesToDuration(wantFrames) || res.Channels != 2 {
		t.Fatalf("result %+v, want %d frames", res, wantFrames)
	}
	ch, pcm := readWAV(t, path)
	if ch != 2 || int64(len(pcm)) != 2*wantFrames {
		t.Fatalf("file: %d channels, %d samples", ch, len(pcm))
	}
	if st, _ := os.Stat(path); st.Size() != res.Size {
		t.Fatalf("size %d, result says %d", st.Size(), res.Size)
	}
	l, rr := deinterleave(pcm)
	check(t, "caller", Caller, l, caller, got[Caller])
	check(t, "callee", Callee, rr, callee, got[Callee])
	if res.Recorded != res.Duration || len(res.Segments) != 1 {
		t.Fatalf("segments %+v recorded %v", res.Segments, res.Recorded)
	}
}

func TestTimelineMonoMix(t *testing.T) {
	r, path := newRec(t, Options{Start: t0})
	r.Put(Caller, 1, 0, []int16{30000, 1000, -30000, 5}, t0)
	r.Put(Callee, 2, 0, []int16{30000, -1000, -30000, 0}, t0)
	r.PutAt(Callee, []int16{0, 0, 0, 7}, t0) // engine-generated audio adds
	if _, err := r.Close(t0.Add(ms(1))); err != nil {
		t.Fatal(err)
	}
	ch, pcm := readWAV(t, path)
	if ch != 1 || !slices.Equal(pcm, []int16{32767, 0, -32768, 12, 0, 0, 0, 0}) {
		t.Fatalf("%d channels: %v", ch, pcm)
	}
}

func TestTimelineSSRCChangeAndJumps(t *testing.T) {
	r, path := newRec(t, Options{Stereo: true, Start: t0})
	rng := rand.New(rand.NewPCG(9, 10))
	// The caller's stream restarts three times: new SSRC at 1 s, a forward timestamp jump
	// at 2 s, a backward jump at 3 s. Positions must follow arrival.
	parts := []stream{
		{ch: Caller, ssrc: 1, tsBase: 100, begin: 0, size: 160, packets: 50, firstOnTime: true},
		{ch: Caller, ssrc: 2, tsBase: 9000000, begin: ms(1000), size: 160, packets: 50, firstOnTime: true},
		{ch: Caller, ssrc: 2, tsBase: 9000000 + 8000 + 200000, begin: ms(2000), size: 160, packets: 50, firstOnTime: true},
		{ch: Caller, ssrc: 2, tsBase: 5, begin: ms(3000), size: 160, packets: 50, firstOnTime: true},
		{ch: Callee, ssrc: 3, tsBase: 0, begin: 0, size: 160, packets: 200, firstOnTime: true},
	}
	end := ms(4000)
	// run one stream at a time in wall-clock order by merging: simulate each part's packets
	// with sig positions relative to the part, so expected data is per part.
	var all []event
	for _, s := range parts {
		for k := range s.packets {
			pcm := make([]int16, s.size)
			for i := range pcm {
				pcm[i] = sig(s.ch, int(durationToFrames(s.begin))+k*s.size+i)
			}
			all = append(all, event{at: t0.Add(s.begin + time.Duration(k*s.size)*time.Second/SampleRate +
				time.Duration(rng.Int64N(int64(ms(30))))*time.Duration(min(k, 1))),
				put: &packet{s.ch, s.ssrc, s.tsBase + uint32(k*s.size), pcm, k * s.size}})
		}
	}
	for tick := time.Duration(0); tick <= end; tick += 20 * time.Millisecond {
		all = append(all, event{at: t0.Add(tick), tick: true})
	}
	slices.SortStableFunc(all, func(a, b event) int { return a.at.Compare(b.at) })
	for _, e := range all {
		if e.tick {
			r.Advance(e.at)
		} else {
			r.Put(e.put.ch, e.put.ssrc, e.put.ts, e.put.pcm, e.at)
		}
	}
	if _, err := r.Close(t0.Add(end)); err != nil {
		t.Fatal(err)
	}
	_, pcm := readWAV(t, path)
	l, rr := deinterleave(pcm)
	if len(l) != 32000 {
		t.Fatalf("%d frames", len(l))
	}
	for i := range l {
		if l[i] != sig(Caller, i) || rr[i] != sig(Callee, i) {
			t.Fatalf("frame %d: caller %d (want %d), callee %d (want %d)", i, l[i], sig(Caller, i), rr[i], sig(Callee, i))
		}
	}
}

func TestTimelineLateAndEarlyPackets(t *testing.T) {
	r, path := newRec(t, Options{Stereo: true, Start: t0, Delay: ms(100)})
	one := func(v int16) []int16 { return slices.Repeat([]int16{v}, 160) }
	r.Put(Caller, 1, 0, one(1), t0)
	r.Put(Caller, 1, 160, one(2), t0.Add(ms(20)))
	r.Advance(t0.Add(ms(140))) // written up to 40 ms = frame 320
	// Frame 160..319 again (a late duplicate): dropped, not re-anchoring.
	r.Put(Caller, 1, 160, one(9), t0.Add(ms(150)))
	// A reordered packet of 0-20 ms arriving now is late: dropped.
	r.Put(Caller, 1, 0, one(9), t0.Add(ms(150)))
	// Next in sequence arrives on time.
	r.Put(Caller, 1, 480, one(4), t0.Add(ms(60)))
	r.Put(Caller, 1, 320, one(3), t0.Add(ms(70))) // reordered within the delay: lands
	if _, err := r.Close(t0.Add(ms(80))); err != nil {
		t.Fatal(err)
	}
	_, pcm := readWAV(t, path)
	l, _ := deinterleave(pcm)
	want := slices.Concat(one(1), one(2), one(3), one(4))
	if !slices.Equal(l, want) {
		t.Fatalf("caller channel differs: %v...", l[300:340])
	}
}

func TestSetActiveSegments(t *testing.T) {
	r, path := newRec(t, Options{Stereo: true, Start: t0})
	rng := rand.New(rand.NewPCG(11, 12))
	caller := stream{ch: Caller, ssrc: 5, begin: 0, size: 160, packets: 250, firstOnTime: true}
	callee := stream{ch: Callee, ssrc: 6, begin: 0, size: 160, packets: 250, firstOnTime: true}
	// Toggle on the wall clock while the call runs: off 1.0-2.5 s, on 2.5-3.5 s, off from 3.5 s.
	var got map[Channel]map[int]bool
	r.SetActive(false, t0.Add(ms(1000)))
	r.SetActive(true, t0.Add(ms(2500)))
	if !r.Active() {
		t.Fatal("not active")
	}
	r.SetActive(false, t0.Add(ms(3500)))
	r.SetActive(false, t0.Add(ms(3600))) // no change
	got = run(t, r, ms(5000), rng, caller, callee)
	snap := r.Snapshot(t0.Add(ms(3000)))
	if snap.Recorded != ms(1500) {
		t.Errorf("snapshot recorded %v, want 1.5s", snap.Recorded)
	}
	res, err := r.Close(t0.Add(ms(5000)))
	if err != nil {
		t.Fatal(err)
	}
	wantSegs := []Segment{{0, ms(1000)}, {ms(2500), ms(3500)}}
	if !slices.Equal(res.Segments, wantSegs) || res.Recorded != ms(2000) || res.Duration != ms(5000) {
		t.Fatalf("result %+v", res)
	}
	_, pcm := readWAV(t, path)
	l, rr := deinterleave(pcm)
	on := func(i int) bool { return i < 8000 || (i >= 20000 && i < 28000) }
	for i := range l {
		wl, wr := sig(Caller, i), sig(Callee, i)
		if !on(i) || !got[Caller][i/160*160] {
			wl, wr = 0, 0
		}
		if l[i] != wl || rr[i] != wr {
			t.Fatalf("frame %d: %d/%d, want %d/%d", i, l[i], rr[i], wl, wr)
		}
	}
}

func TestInactiveStartAndCloseWhileActive(t *testing.T) {
	r, path := newRec(t, Options{Start: t0, Inactive: true})
	if r.Active() {
		t.Fatal("active")
	}
	r.Put(Caller, 1, 0, slices.Repeat([]int16{100}, 8000), t0)
	r.SetActive(true, t0.Add(ms(500)))
	res, err := r.Close(t0.Add(ms(800)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Segments, []Segment{{ms(500), ms(800)}}) || res.Recorded != ms(300) {
		t.Fatalf("result %+v", res)
	}
	_, pcm := readWAV(t, path)
	for i, v := range pcm {
		if want := int16(100) * int16(min(1, i/4000)); v != want {
			t.Fatalf("frame %d: %d, want %d", i, v, want)
		}
	}
}

func TestCloseExactLength(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int64
	}{{0, 0}, {ms(0.0624), 0}, {ms(0.0625), 1}, {ms(1000), 8000}, {ms(1234.5678), 9877}, {-ms(5), 0}} {
		r, path := newRec(t, Options{Start: t0})
		r.Put(Caller, 1, 0, make([]int16, 20000), t0)
		r.Advance(t0.Add(ms(3000))) // written beyond the end: Close cuts back
		res, err := r.Close(t0.Add(c.d))
		if err != nil {
			t.Fatal(err)
		}
		_, pcm := readWAV(t, path)
		if res.Frames != c.want || int64(len(pcm)) != c.want {
			t.Errorf("%v: %d frames in result, %d in file, want %d", c.d, res.Frames, len(pcm), c.want)
		}
	}
}

func TestConcurrentPutAdvance(t *testing.T) {
	r, path := newRec(t, Options{Stereo: true, Start: t0})
	var wg sync.WaitGroup
	for _, ch := range []Channel{Caller, Callee} {
		wg.Go(func() {
			for k := range 500 {
				at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
				r.Put(ch, uint32(ch), uint32(k*160), slices.Repeat([]int16{int16(ch + 1)}, 160), at)
				if k%50 == 0 {
					r.SetActive(k%100 == 0, at)
					r.Snapshot(at)
				}
			}
		})
	}
	wg.Go(func() {
		for k := range 500 {
			r.Advance(t0.Add(time.Duration(k) * 20 * time.Millisecond))
		}
	})
	wg.Wait()
	if _, err := r.Close(t0.Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, pcm := readWAV(t, path); len(pcm) != 2*80000 {
		t.Fatalf("%d samples", len(pcm))
	}
}

func TestPutNoAlloc(t *testing.T) {
	r, _ := newRec(t, Options{Start: t0})
	pcm := make([]int16, 160)
	k := 0
	n := testing.AllocsPerRun(500, func() {
		at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		r.Put(Caller, 1, uint32(k*160), pcm, at)
		r.Put(Callee, 2, uint32(k*160), pcm, at)
		r.Advance(at)
		k++
	})
	if n != 0 {
		t.Fatalf("%v allocations per packet pair", n)
	}
}

// With every packet jittered, the first one included, each direction is shifted by its
// anchor packet's delay (at most the jitter) and otherwise placed exactly: no sample moves
// relative to its neighbours, so both directions stay aligned within the jitter.
func TestTimelineJitteredAnchor(t *testing.T) {
	for seed := range uint64(5) {
		r, path := newRec(t, Options{Stereo: true, Start: t0})
		rng := rand.New(rand.NewPCG(seed, 99))
		caller := stream{ch: Caller, ssrc: 1, tsBase: 777, size: 160, packets: 150, jitter: ms(60)}
		callee := stream{ch: Callee, ssrc: 2, tsBase: 999, size: 240, packets: 100, jitter: ms(60)}
		run(t, r, ms(3200), rng, caller, callee)
		if _, err := r.Close(t0.Add(ms(3200))); err != nil {
			t.Fatal(err)
		}
		_, pcm := readWAV(t, path)
		l, rr := deinterleave(pcm)
		for _, c := range []struct {
			ch  Channel
			got []int16
		}{{Caller, l}, {Callee, rr}} {
			shift := -1
			for i, v := range c.got {
				if v == 0 {
					continue
				}
				p := int(v) - 1 // sig is 1+p%15000
				if c.ch == Callee {
					p = -int(v) - 1
				}
				if shift < 0 {
					shift = i - p
				}
				if (i-p-shift)%15000 != 0 {
					t.Fatalf("seed %d %v: frame %d holds stream sample %d, shift %d, want %d", seed, c.ch, i, p, i-p, shift)
				}
			}
			if shift < 0 || shift > 480 {
				t.Fatalf("seed %d %v: shifted by %d frames, want 0-480 (60 ms)", seed, c.ch, shift)
			}
		}
	}
}

// The sender figures of a direction: where its first packet came and where its newest
// packet's audio ends; a direction that sent nothing reports none.
func TestSenderFigures(t *testing.T) {
	r, _ := newRec(t, Options{Start: t0, Stereo: true})
	pcm := slices.Repeat([]int16{100}, 160)
	// The caller starts 300 ms after the bridge and stops at 1 s.
	for k := 15; k < 50; k++ {
		at := t0.Add(time.Duration(k) * 20 * time.Millisecond)
		r.Put(Caller, 1, uint32(k*160), pcm, at)
		r.Advance(at)
	}
	res, err := r.Close(t0.Add(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.FirstArrival[Caller] != ms(300) || res.SentUntil[Caller] != time.Second {
		t.Errorf("caller: first %v, sent until %v; want 300ms, 1s", res.FirstArrival[Caller], res.SentUntil[Caller])
	}
	if res.FirstArrival[Callee] != -1 || res.SentUntil[Callee] != 0 {
		t.Errorf("callee sent nothing: first %v, sent until %v", res.FirstArrival[Callee], res.SentUntil[Callee])
	}
}
