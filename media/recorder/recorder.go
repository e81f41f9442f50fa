// Package recorder turns one call's two RTP directions into a WAV file that spans the call
// on the wall clock (bridge to hangup) and is playable at every moment, also after kill -9.
//
// The engine decodes each packet to 8 kHz PCM and hands it to Put with its RTP timestamp and
// the kernel's receive time; a ticker calls AdvanceTo with the time up to which every packet
// has been handed over (the readers' horizon) and the wall clock. Between the two sits a ring
// per direction where packets land by timestamp, so reordering, jitter within Delay and a
// stalled reader cost nothing, and whatever never arrived is written as silence. Audio up to
// the horizon (less Delay) is final; beyond it, up to the wall clock, the file already holds a
// provisional version (what has arrived so far, silence elsewhere) that packets still queued
// in the kernel overwrite in place when they come, so after kill -9 the file spans the call
// even while the readers are seconds behind. The file is written by a small pool of writer
// goroutines (writer.go, pool.go), so a disk that blocks delays only that file, never a caller
// of Put or Advance.
package recorder

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Channel is a direction of the call.
type Channel int

const (
	Caller Channel = 0 // left in stereo files
	Callee Channel = 1 // right in stereo files
)

// Options configure a recording.
type Options struct {
	Stereo     bool          // caller left, callee right; else mono mix (sum, clipped)
	Start      time.Time     // bridge time = sample 0; zero means time.Now()
	Delay      time.Duration // how far writing lags the wall clock to absorb jitter (default 120 ms)
	FlushEvery time.Duration // RIFF/data sizes rewritten at least this often (default 1 s)
	// Inactive starts with recording off (manual mode): silence until SetActive(true, at).
	Inactive bool
}

// Segment is a stretch of the file with recording on, as offsets from Start.
type Segment struct{ Start, End time.Duration }

// Result describes the file. Duration is the file's length (Frames at 8 kHz) and Recorded
// the sum of Segments.
type Result struct {
	Size     int64
	Frames   int64
	Duration time.Duration
	Recorded time.Duration
	Segments []Segment
	Channels int
	// Late is, per direction, the received audio dropped because it came after its place in
	// the file was written: zero when the writer never ran ahead of a packet.
	Late [2]time.Duration
	// Overrun is, per direction, the received audio dropped because it lay further ahead of
	// the writer than the ring holds: the packet readers had fallen behind by seconds.
	Overrun [2]time.Duration
	// Skipped is, per direction, how much audio the sender's RTP timestamps jumped over (a
	// sender that fell behind and went on with the present): silence in its input.
	Skipped [2]time.Duration
	// FirstArrival is, per direction, when the first packet that came after Start came, as
	// an offset from Start (-1 when none came): silence before it was not sent.
	FirstArrival [2]time.Duration
	// SentUntil is, per direction, where the audio of the newest packet ends, as an offset
	// from Start (0 when none came): silence after it was not sent. With FirstArrival,
	// Skipped and ArrivedLate it tells a sender's silences from the engine's.
	SentUntil [2]time.Duration
	// ArrivedLate is, per direction, the received audio dropped because it reached this
	// machine (by the kernel's receive time) only after its place in the file was final:
	// the sender or the network was late, not the engine. Late excludes it.
	ArrivedLate [2]time.Duration
	// LatePackets and OverrunPackets count, per direction, the packets behind Late and
	// Overrun (the metrics); ArrivedLatePackets those behind ArrivedLate.
	LatePackets, OverrunPackets, ArrivedLatePackets [2]uint64
}

const (
	// ringFrames is 4.1 s per direction, what a ring may grow to: a reader stalled for 2 s (the
	// engine stopped or starved) plus Delay plus the interval between two Advance calls, with
	// room to spare; the writer cannot take frames while packets for them may still be queued
	// in the kernel.
	ringFrames = 1 << 15
	// ringStart is 2.05 s, what a ring starts with: Delay, the clock's step and the stall
	// guard (stallFrames) fit, so a call whose readers keep up never needs more; a packet or a
	// step that needs more grows both directions' rings to ringFrames at once (a stop or
	// starvation of the process), and they stay so. Half the rings' memory for every call
	// that never stalled.
	ringStart = 1 << 14
	// jumpFrames is how far a packet's timestamp may put it from its arrival time before the
	// stream is re-anchored to the arrival (sender restarted its clock, long hold, big skew).
	jumpFrames = SampleRate
	// bufferFrames: hand buffered audio to the OS every 200 ms, so kill -9 loses at most that
	// (plus Delay) and a call costs five write syscalls a second (and the header's one)
	// rather than one per packet: with a thousand calls each write is CPU the packets need.
	// A multiple of a 20 ms packet that divides the header's 1 s flush.
	bufferFrames = SampleRate / 5
	// maxQueueFrames bounds the audio waiting for its writer; past it the recording fails (and
	// the call goes on) instead of growing without limit. It is far beyond what a busy machine
	// leaves behind (a writer that gets any CPU at all writes its whole queue in one call); a
	// disk that accepts nothing fails the recording sooner (diskTimeout, writer.go).
	maxQueueFrames = 10 * 60 * SampleRate
	// aheadFrames: while the horizon lags the wall clock by more than this, the file is extended
	// provisionally to this far behind the wall clock (less Delay), so kill -9 finds a file that
	// spans the call; closer than this the horizon's own writes suffice and nothing is written
	// twice.
	aheadFrames = SampleRate / 4
	// histLen is how many Advance steps remember their horizon, to tell a packet that came late
	// to the machine from one the readers handed over late.
	histLen = 64
	// earlyFrames is how much earlier than its place a packet must come before it moves its
	// stream (see shiftEarlier): more than scheduling noise, less than a packet.
	earlyFrames = SampleRate / 200
	// stallFrames is how long a direction that was receiving packets may go quiet before the
	// writer commits silence for it. On a starved machine the engine's packet reader (or the
	// sender) is descheduled for a moment: the packets wait in the socket and arrive late in a
	// burst. Writing silence after only Delay would lose them and re-anchor the stream late
	// (a gap and a shifted channel); holding the writer back lets them land where their
	// timestamps say. A real pause (hold, silence suppression) only costs this much more write
	// latency. With Delay it stays inside the ring, and under the 1 s anchor tolerance.
	stallFrames = SampleRate * 8 / 10
)

type direction struct {
	ring []int16 // ringLen frames, position p at p&(ringLen-1)
	// The current anchor and the one before it. After an SSRC switch or a timestamp jump,
	// stragglers of the old stream still land by their own anchor instead of yanking the
	// new one around.
	anchors [2]anchor
	cur     int
	// end is where the newest packet's samples end and lastArr when a packet last arrived
	// (frame positions; lastArr < 0 before the first): the writer's stall guard (Advance).
	end, lastArr int64
	late         int64 // frames dropped because their place was written
	overrun      int64 // frames dropped for want of room in the ring
	lateShift    int64 // frames a late stream was moved on by when it re-anchored
	firstArr     int64 // arrival of the first packet at or after Start (-1: none yet)
	skipped      int64 // frames the timestamps jumped over, less stragglers that filled them
	arrivedLate  int64 // of the frames dropped as late, those that reached the machine late
	latePkts     uint64
	overrunPkts  uint64
	arrLatePkts  uint64
}

type anchor struct {
	ok      bool
	ssrc    uint32
	next    uint32 // timestamp expected after the newest packet
	nextPos int64  // its frame position
	first   int64  // the earliest position a packet of this anchor landed at
}

// locate returns where a packet lands by this anchor, whether it is newer than what the
// anchor has seen, and whether the anchor explains it at all.
func (a *anchor) locate(ssrc, ts uint32, arr, written int64) (p int64, newer, fits bool) {
	if !a.ok || a.ssrc != ssrc {
		return 0, false, false
	}
	delta := int32(ts - a.next)
	p, newer = a.nextPos+int64(delta), delta >= 0
	fits = p-arr <= jumpFrames && arr-p <= jumpFrames && !(newer && p < written)
	return p, newer, fits
}

type transition struct {
	pos int64
	on  bool
}

// Recorder writes one call. Put, PutAt, SetActive, Advance and Snapshot may be called from
// any goroutine at any time; none of them waits for the disk: the file is written by the
// recording's own goroutine from a queue that Advance fills.
type Recorder struct {
	start       time.Time
	delay       time.Duration
	channels    int
	flushFrames int64

	mu       sync.Mutex // guards the fields below it up to the writer's
	dir      [2]direction
	ringLen  int64 // both directions' ring size: ringStart, or ringFrames once grown
	written  int64 // frames taken out of the rings (positions before it are final)
	shown    int64 // frames rendered for the file (>= written; beyond written provisional)
	dirty    int64 // lowest position below shown changed since it was rendered (noDirty: none)
	active   bool  // as set by SetActive (the present)
	pending  []transition
	writeOn  bool // active state at position written
	segments []Segment
	segStart int64
	err      error
	closed   bool   // no more Puts; Close was called
	queue    []byte // frames rendered but not yet handed to the writer, ending at shown
	queueAt  int64  // the frame position of queue[0]
	woken    int64  // shown when the writer was last woken
	closing  bool   // the writer's next pass is its last
	cutTo    int64  // >= 0: Close ended before what the file holds; cut the file there
	// writingSince is when the writer began the write it is in (zero: none): a disk that
	// accepts nothing for diskTimeout fails the recording.
	writingSince time.Time
	// hist remembers, for the last Advance steps, how far each made the file final and the
	// horizon it did it with (histNext: the next slot).
	hist     [histLen]struct{ upto, horizon int64 }
	histNext int

	// queued: handed to the writer pool and not yet through a pass; again: poked meanwhile.
	queued, again atomic.Bool
	done          chan struct{} // closed when the writer has closed the file

	// Owned by the writer goroutine (read by Close after done).
	f            sink
	mine         []byte // the queue the writer is writing
	mineAt       int64  // its frame position
	fileFrames   int64  // frames handed to the OS
	headerAt     int64  // frames the header last declared
	durableBytes int64  // data bytes the OS accepted
}

func newRecorder(f sink, opt Options) (*Recorder, error) {
	r := New(opt)
	if err := r.attach(f); err != nil {
		return nil, err
	}
	return r, nil
}

// attach writes the empty file's header and starts the writer on f.
func (r *Recorder) attach(f sink) error {
	if r.f != nil {
		return errors.New("recorder: already has a file")
	}
	h := header(r.channels, 0)
	if _, err := f.WriteAt(h[:], 0); err != nil {
		return fmt.Errorf("recorder: writing header: %w", err)
	}
	r.f = f
	r.mine = make([]byte, 0, 2*bufferFrames*2*r.channels)
	r.poke() // audio taken before the file existed
	return nil
}

// pos is the frame position of wall-clock time t.
func (r *Recorder) pos(t time.Time) int64 { return durationToFrames(t.Sub(r.start)) }

// Put places the decoded 8 kHz samples of one RTP packet of direction ch. The first packet
// of an SSRC anchors its timestamp to the packet's arrival; later packets land by timestamp
// from there, so jitter and reordering within Delay do not move audio. A new SSRC, a
// timestamp more than 1 s away from the arrival time, or a new packet that would land before
// what is already written (the sender's clock fell behind, or it paused its timestamps)
// re-anchors to the arrival. The previous anchor is kept, so stragglers from before an SSRC
// switch or a jump still land where they belong. A duplicate overwrites identical samples;
// a packet whose place was already written is dropped.
func (r *Recorder) Put(ch Channel, ssrc uint32, ts uint32, pcm []int16, arrival time.Time) {
	if ch != Caller && ch != Callee || len(pcm) == 0 {
		return
	}
	arr := r.pos(arrival)
	n := uint32(len(pcm))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	d := &r.dir[ch]
	a := &d.anchors[d.cur]
	p, newer, fits := a.locate(ssrc, ts, arr, r.written)
	cur, pCur, newerCur := a, p, newer
	if !fits {
		a = &d.anchors[1-d.cur]
		p, newer, fits = a.locate(ssrc, ts, arr, r.written)
	}
	if !fits && newerCur && cur.ok && cur.ssrc == ssrc {
		// The stream's next packet by its current anchor, and no anchor takes it: it
		// re-anchors below, once, and what that leaves out is counted (a packet the other
		// anchor takes re-anchors nothing and counts nothing).
		r.countReanchor(d, cur, pCur, arr)
	}
	if !fits {
		// Re-anchor to the arrival; the anchor replaced is the older one.
		d.cur = 1 - d.cur
		a = &d.anchors[d.cur]
		*a = anchor{ok: true, ssrc: ssrc, first: arr}
		p, newer = arr, true
	} else if p-arr >= earlyFrames && !d.anchors[1-d.cur].ok && a == &d.anchors[d.cur] {
		// The packet came earlier than its place: the stream's first packet (the anchor) was
		// itself late. Move what the anchor placed so far earlier, while it is unwritten, so
		// a late first packet does not shift the whole direction.
		p -= r.shiftEarlier(d, a, p-arr)
	}
	switch {
	case newer && fits && int32(ts-a.next) > 0:
		d.skipped += int64(int32(ts - a.next))
	case !newer:
		d.skipped = max(0, d.skipped-int64(n)) // a reordered packet filled part of a hole
	}
	if newer {
		a.next, a.nextPos = ts+n, p+int64(n)
	}
	a.first = min(a.first, p)
	if arr >= 0 && (d.firstArr < 0 || arr < d.firstArr) {
		d.firstArr = arr
	}
	d.end, d.lastArr = max(d.end, p+int64(n)), max(d.lastArr, arr)
	if p < r.written && p+int64(n) > 0 {
		// Audio before the file's start (read after the bridge, sent before it) is no loss.
		k := min(r.written, p+int64(n)) - max(p, 0)
		d.late += k
		d.latePkts++
		if r.cameLate(max(p, 0), arr) {
			d.arrivedLate += k
			d.arrLatePkts++
		}
	}
	r.place(d, p, pcm, false)
}

// countReanchor counts what a stream leaves out when its next packet (at p by the current
// anchor a, arriving at arr) re-anchors it to its arrival.
func (r *Recorder) countReanchor(d *direction, a *anchor, p, arr int64) {
	switch {
	case p < r.written && p > 0 && arr >= r.written && p-arr <= jumpFrames && arr-p <= ringFrames:
		// Its place is already written: the writer ran ahead of it, and what it would have
		// filled counts as late (a packet that arrived before the written position is counted
		// as late where it drops). A sender that paused for over a second and went on with
		// its timestamps (beyond the jump tolerance) is counted too, up to what the ring
		// spans: its silence is the sender's, and without the count it would show in the file
		// as nobody's.
		d.lateShift += r.written - p
		if r.cameLate(p, arr) {
			d.arrivedLate += r.written - p
		}
	case p >= r.written && p >= 0 && arr-p > jumpFrames:
		// The same pause, read before the writer reached its place (the engine was stopped
		// meanwhile, or the stall guard held the writer): the stretch from where the stream
		// stopped to where it is heard (the timestamps' own jump included) is the sender's.
		hole := arr - max(a.nextPos, 0)
		d.lateShift += hole
		d.arrivedLate += hole
	}
}

// cameLate reports whether a packet that arrived at frame position arr found position p
// already final because it reached the machine after the horizon that made p final: then the
// sender (or the network) was late. Otherwise the readers handed it over after they had
// promised to have delivered it: the engine's fault. Positions older than the history count
// as the sender's (they are seconds late).
func (r *Recorder) cameLate(p, arr int64) bool {
	for k := range histLen {
		h := r.hist[(r.histNext+k)%histLen]
		if h.upto > p {
			return arr >= h.horizon
		}
	}
	return true
}

// shiftEarlier moves the audio anchor a placed by up to by frames earlier, as far as its first
// position stays unwritten, and returns how far it moved.
func (r *Recorder) shiftEarlier(d *direction, a *anchor, by int64) int64 {
	by = min(by, a.first-r.written)
	if by <= 0 {
		return 0
	}
	from, to := max(a.first, r.written), a.nextPos
	mask := r.ringLen - 1
	for q := from; q < to; q++ {
		d.ring[(q-by)&mask] = d.ring[q&mask]
	}
	for q := max(to-by, from); q < to; q++ {
		d.ring[q&mask] = 0
	}
	a.first -= by
	a.nextPos -= by
	d.end -= by
	return by
}

// PutAt mixes samples the engine generated itself (a prompt it plays, a whisper) into
// direction ch at wall-clock time at, adding to what is there.
func (r *Recorder) PutAt(ch Channel, pcm []int16, at time.Time) {
	if ch != Caller && ch != Callee || len(pcm) == 0 {
		return
	}
	p := r.pos(at)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.place(&r.dir[ch], p, pcm, true)
	}
}

// place copies pcm to position p, dropping what lies before the written position or beyond
// the ring.
func (r *Recorder) place(d *direction, p int64, pcm []int16, mix bool) {
	if p < r.written {
		skip := r.written - p
		if skip >= int64(len(pcm)) {
			return
		}
		pcm, p = pcm[skip:], r.written
	}
	r.fit(p + int64(len(pcm)))
	if room := r.written + r.ringLen - p; int64(len(pcm)) > room {
		if !mix {
			d.overrun += int64(len(pcm)) - max(room, 0)
			d.overrunPkts++
		}
		if room <= 0 {
			return
		}
		pcm = pcm[:room]
	}
	if p < r.shown {
		r.dirty = min(r.dirty, p) // the file has a provisional version of it: write it again
	}
	for len(pcm) > 0 {
		i := int(p & (r.ringLen - 1))
		dst := d.ring[i:min(int(r.ringLen), i+len(pcm))]
		if mix {
			for k, s := range pcm[:len(dst)] {
				dst[k] = sat(int32(dst[k]) + int32(s))
			}
		} else {
			copy(dst, pcm)
		}
		pcm, p = pcm[len(dst):], p+int64(len(dst))
	}
}

// fit grows the rings when position upto lies beyond what they span from the written
// position, up to ringFrames: what they hold moves to its place in the larger rings.
func (r *Recorder) fit(upto int64) {
	if upto-r.written <= r.ringLen || r.ringLen >= ringFrames {
		return
	}
	old, mask := r.ringLen, r.ringLen-1
	for c := range r.dir {
		d := &r.dir[c]
		ring := make([]int16, ringFrames)
		for p := r.written; p < r.written+old; p++ {
			ring[p&(ringFrames-1)] = d.ring[p&mask]
		}
		d.ring = ring
	}
	r.ringLen = ringFrames
}

func firstArrival(f int64) time.Duration {
	if f < 0 {
		return -1
	}
	return framesToDuration(f)
}

func sat(v int32) int16 {
	return int16(max(-32768, min(32767, v)))
}

// SetActive turns recording on or off from wall-clock time at: while off the file gets
// digital silence, and the Segments in the Result track the on stretches. Calls must come in
// time order; an at before what is already written takes effect at the written position.
func (r *Recorder) SetActive(on bool, at time.Time) {
	p := max(r.pos(at), 0)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed && on != r.active {
		r.setActiveLocked(on, p)
	}
}

func (r *Recorder) setActiveLocked(on bool, p int64) {
	p = max(p, r.written)
	if n := len(r.pending); n > 0 && p < r.pending[n-1].pos {
		p = r.pending[n-1].pos
	}
	r.active = on
	r.pending = append(r.pending, transition{p, on})
	if p < r.shown {
		r.dirty = min(r.dirty, p)
	}
	if on {
		r.segStart = p
	} else if p > r.segStart {
		r.segments = append(r.segments, Segment{framesToDuration(r.segStart), framesToDuration(p)})
	}
}

// Active reports whether recording is on (as last set).
func (r *Recorder) Active() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active
}

// Err returns the first write error (disk full, ...). After one the recorder keeps
// accepting packets so the call is unaffected, but writes nothing more.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Snapshot reports the state at wall-clock time at for live display: Frames and Duration
// are what is written so far, Recorded and Segments count up to at.
func (r *Recorder) Snapshot(at time.Time) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resultLocked(max(r.pos(at), 0))
}

func (r *Recorder) resultLocked(end int64) Result {
	segs := make([]Segment, 0, len(r.segments)+1)
	var rec time.Duration
	endD := framesToDuration(end)
	for _, s := range r.segments {
		if s.Start >= endD {
			break
		}
		s.End = min(s.End, endD)
		segs = append(segs, s)
		rec += s.End - s.Start
	}
	if r.active && r.segStart < end {
		s := Segment{framesToDuration(r.segStart), endD}
		segs = append(segs, s)
		rec += s.End - s.Start
	}
	return Result{
		Size:               headerSize + r.shown*int64(2*r.channels),
		Frames:             r.shown,
		Duration:           framesToDuration(r.shown),
		Recorded:           rec,
		Segments:           segs,
		Channels:           r.channels,
		Late:               [2]time.Duration{framesToDuration(r.dir[0].late + r.dir[0].lateShift - r.dir[0].arrivedLate), framesToDuration(r.dir[1].late + r.dir[1].lateShift - r.dir[1].arrivedLate)},
		ArrivedLate:        [2]time.Duration{framesToDuration(r.dir[0].arrivedLate), framesToDuration(r.dir[1].arrivedLate)},
		Skipped:            [2]time.Duration{framesToDuration(r.dir[0].skipped), framesToDuration(r.dir[1].skipped)},
		Overrun:            [2]time.Duration{framesToDuration(r.dir[0].overrun), framesToDuration(r.dir[1].overrun)},
		FirstArrival:       [2]time.Duration{firstArrival(r.dir[0].firstArr), firstArrival(r.dir[1].firstArr)},
		SentUntil:          [2]time.Duration{framesToDuration(max(r.dir[0].end, 0)), framesToDuration(max(r.dir[1].end, 0))},
		LatePackets:        [2]uint64{r.dir[0].latePkts - r.dir[0].arrLatePkts, r.dir[1].latePkts - r.dir[1].arrLatePkts},
		OverrunPackets:     [2]uint64{r.dir[0].overrunPkts, r.dir[1].overrunPkts},
		ArrivedLatePackets: [2]uint64{r.dir[0].arrLatePkts, r.dir[1].arrLatePkts},
	}
}
