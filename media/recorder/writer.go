package recorder

// From the rings to the file: Advance renders the timeline into a queue, the writer pool
// (pool.go) writes each recorder's queue with one pwrite at its offset, Close writes the rest
// and the final header.

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"
)

// noDirty marks a recorder whose rendered frames are all current.
const noDirty = math.MaxInt64

// diskTimeout is how long one write may block before the recording fails: a disk that
// accepts nothing for that long is broken, not busy.
const diskTimeout = time.Minute

// Advance is AdvanceTo with the wall clock as the horizon: every packet up to now was Put.
func (r *Recorder) Advance(now time.Time) { r.AdvanceTo(now, now) }

// AdvanceTo makes everything due at the horizon (up to horizon-Delay) final, with silence
// where nothing arrived, and hands it to the file's writer. horizon must be a time up to
// which every packet has been Put (the packet readers' progress, not merely the wall clock).
// When the horizon lags the wall clock now, the file is extended provisionally towards now
// (what the rings hold, silence elsewhere) and rewritten in place where packets still land,
// so the file on disk spans the call even while the readers are behind. Call it regularly
// (every 20-100 ms), at least every second, or packets arriving in between find no room in
// the ring and are lost.
//
// A direction whose packets stopped less than 800 ms before the horizon holds the final
// position at the end of its newest packet (see stallFrames): late packets of a stalled
// sender still land.
func (r *Recorder) AdvanceTo(horizon, now time.Time) {
	if now.Before(horizon) {
		now = horizon
	}
	h := r.pos(horizon)
	target := r.pos(horizon.Add(-r.delay))
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	for i := range r.dir {
		d := &r.dir[i]
		if d.lastArr >= 0 && d.end < target && h-d.lastArr < stallFrames {
			target = max(d.end, r.written)
		}
	}
	if !r.writingSince.IsZero() && time.Since(r.writingSince) > diskTimeout && r.err == nil {
		r.err = errors.New("recorder: writing failed: the disk accepted nothing for a minute")
	}
	show := max(target, r.shown)
	if ahead := r.pos(now.Add(-r.delay)) - aheadFrames; ahead > show {
		r.fit(ahead)
		show = max(show, min(ahead, r.written+r.ringLen))
	}
	r.fit(show)
	r.renderLocked(min(r.dirty, r.shown), show)
	if target > r.written {
		r.finalLocked(target)
		r.hist[r.histNext] = struct{ upto, horizon int64 }{r.written, h}
		r.histNext = (r.histNext + 1) % histLen
	}
	wake := r.shown-r.woken >= bufferFrames
	if wake {
		r.woken = r.shown
	}
	r.mu.Unlock()
	if wake {
		r.poke()
	}
}

// renderLocked renders positions lo..hi (lo >= written, hi >= shown) from the rings into the
// writer's queue, with the on/off state, and makes them shown. Nothing is cleared: until a
// position is final a packet may still land there and it is rendered again.
func (r *Recorder) renderLocked(lo, hi int64) {
	lo = max(lo, r.written)
	if hi <= lo {
		return
	}
	defer func() { r.shown, r.dirty = max(r.shown, hi), noDirty }()
	bpf := int64(2 * r.channels)
	if r.err == nil && len(r.queue) > 0 && hi-min(lo, r.queueAt) > maxQueueFrames {
		r.err = errors.New("recorder: writing failed: the writer fell ten minutes behind")
	}
	if r.err != nil {
		r.queue = r.queue[:0] // nothing more reaches the file; the rings still take Puts
		return
	}
	if len(r.queue) == 0 || lo < r.queueAt {
		// Positions from lo on are all in the rings: the queue starts over there.
		r.queueAt, r.queue = lo, r.queue[:0]
	}
	n := int((hi - r.queueAt) * bpf)
	r.queue = slices.Grow(r.queue, n-len(r.queue))[:n]
	out := r.queue[(lo-r.queueAt)*bpf:]
	on, next := r.writeOn, 0 // the on/off state at lo, and the next transition after it
	for next < len(r.pending) && r.pending[next].pos <= lo {
		on = r.pending[next].on
		next++
	}
	for k := lo; k < hi; {
		i := int(k & (r.ringLen - 1))
		end := min(hi, k+r.ringLen-int64(i)) // stop at the ring's end
		if next < len(r.pending) {
			end = min(end, r.pending[next].pos) // and at the next on/off
		}
		a := r.dir[Caller].ring[i : i+int(end-k)]
		b := r.dir[Callee].ring[i : i+int(end-k)]
		o := out[(k-lo)*bpf : (end-lo)*bpf]
		switch {
		case !on:
			clear(o)
		case r.channels == 2:
			interleave(o, a, b)
		default:
			mix(o, a, b)
		}
		k = end
		for next < len(r.pending) && r.pending[next].pos <= k {
			on = r.pending[next].on
			next++
		}
	}
}

// finalLocked makes the positions up to target (<= shown) final: their ring slots are
// cleared for reuse and the on/off transitions before target consumed.
func (r *Recorder) finalLocked(target int64) {
	for c := range r.dir {
		d := &r.dir[c]
		for p := r.written; p < target; {
			i := int(p & (r.ringLen - 1))
			k := min(r.ringLen-int64(i), target-p)
			clear(d.ring[i : i+int(k)])
			p += k
		}
	}
	used := 0
	for used < len(r.pending) && r.pending[used].pos < target {
		r.writeOn = r.pending[used].on
		used++
	}
	r.pending = r.pending[:copy(r.pending, r.pending[used:])]
	r.written = target
}

// poke hands the recorder to the writer pool, once: a pass already queued or running takes
// what was added meanwhile (again).
func (r *Recorder) poke() {
	if r.f == nil {
		return // Open's attach pokes
	}
	if r.queued.CompareAndSwap(false, true) {
		pool.submit(r)
	} else {
		r.again.Store(true)
	}
}

// run is one turn of the writer pool on this recorder: passes until nothing was added.
func (r *Recorder) run() {
	for {
		r.again.Store(false)
		if r.pass() {
			close(r.done)
			return
		}
		r.queued.Store(false)
		if !r.again.Load() || !r.queued.CompareAndSwap(false, true) {
			return
		}
	}
}

// pass writes what is queued, in one pwrite at its place (a provisional stretch rewritten
// and the new audio after it); it reports whether it was the last pass.
func (r *Recorder) pass() bool {
	r.mu.Lock()
	r.queue, r.mine = r.mine[:0], r.queue
	r.mineAt = r.queueAt
	upto, closing, cutTo, failed := r.shown, r.closing, r.cutTo, r.err != nil
	if !failed && len(r.mine) > 0 {
		r.writingSince = time.Now()
	}
	r.mu.Unlock()

	if !failed && len(r.mine) > 0 {
		bpf := int64(2 * r.channels)
		n, err := r.f.WriteAt(r.mine, headerSize+r.mineAt*bpf)
		if end := r.mineAt + int64(n)/bpf; end > r.fileFrames {
			r.fileFrames, r.durableBytes = end, end*bpf
		}
		r.mu.Lock()
		r.writingSince = time.Time{}
		r.mu.Unlock()
		if err != nil {
			r.fail(err)
			failed = true
		}
	}
	if closing {
		r.finish(upto, cutTo, failed)
		return true
	}
	if !failed && upto-r.headerAt >= r.flushFrames {
		if err := r.writeHeader(upto); err != nil {
			r.fail(err)
		}
	}
	return false
}

// waitWriter returns when the writer has done the work it was handed (tests read the file
// of a recording in progress after it).
func (r *Recorder) waitWriter() {
	for r.queued.Load() {
		time.Sleep(time.Millisecond)
	}
}

// finish is the writer's last pass: cut back if Close ended before what the file holds, fix
// the header, close the file.
func (r *Recorder) finish(upto, cutTo int64, failed bool) {
	if !failed && cutTo >= 0 && cutTo < r.fileFrames {
		if err := r.truncate(cutTo); err != nil {
			r.fail(err)
			failed = true
		}
		upto = cutTo
	}
	if !failed {
		if err := r.writeHeader(upto); err != nil {
			r.fail(err)
		}
	} else {
		// Best effort: declare what reached the OS, so the file stays readable.
		_ = r.writeHeader(upto)
	}
	if err := r.f.Close(); err != nil {
		r.fail(err)
	}
}

func (r *Recorder) writeHeader(upto int64) error {
	h := header(r.channels, r.durableBytes)
	if _, err := r.f.WriteAt(h[:], 0); err != nil {
		return err
	}
	r.headerAt = upto
	return nil
}

func (r *Recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = fmt.Errorf("recorder: writing failed: %w", err)
	}
}

// Close takes the rest of the timeline, so the file holds exactly round((end-Start)*8000)
// frames, waits for the writer to write it, fixes the header and closes the file. Audio
// still in the ring up to end is kept (the delay does not apply). After a write error Close
// still closes the file, leaving the header describing the audio written before the failure,
// and returns that error with the Result of the intended timeline. Close waits for the disk;
// call it where that blocks nobody else.
func (r *Recorder) Close(end time.Time) (Result, error) {
	target := max(r.pos(end), 0)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return Result{}, errors.New("recorder: already closed")
	}
	if r.active {
		r.setActiveLocked(false, target)
	}
	if target < r.shown {
		// An end before what was already rendered: cut the queue, and the file if it holds
		// more (the writer's last pass truncates).
		bpf := int64(2 * r.channels)
		if len(r.queue) > 0 {
			keep := max(target-r.queueAt, 0)
			r.queue = r.queue[:min(int64(len(r.queue)), keep*bpf)]
		}
		r.cutTo = target
		r.shown = target
		r.written = min(r.written, target)
		r.dirty = min(r.dirty, target)
	}
	r.fit(target)
	r.renderLocked(min(r.dirty, r.shown), target)
	r.finalLocked(max(target, r.written))
	r.closed, r.closing = true, true
	res := r.resultLocked(target)
	r.mu.Unlock()
	if r.f == nil {
		return res, errors.New("recorder: closed without a file")
	}
	r.poke()
	<-r.done
	res.Size = headerSize + r.durableBytes
	return res, r.Err()
}

// truncate cuts the file back to target frames (writer goroutine only).
func (r *Recorder) truncate(target int64) error {
	t, ok := r.f.(interface{ Truncate(int64) error })
	if !ok {
		return errors.New("cannot truncate")
	}
	size := target * int64(2*r.channels)
	if err := t.Truncate(headerSize + size); err != nil {
		return err
	}
	r.durableBytes = min(r.durableBytes, size)
	r.fileFrames = target
	r.headerAt = min(r.headerAt, target)
	return nil
}

// sink is what the recorder writes to: an *os.File, or a failing stand-in in tests.
type sink interface {
	io.WriterAt
	Close() error
}

// fileAt is the recording's *os.File. Its WriteAt says how much of a failed write reached the
// file: os.File's drops the count of a partial pwrite when the next one fails (a disk that
// fills in the middle of a write), and the header must declare that audio too.
type fileAt struct{ *os.File }

func (f fileAt) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	if err != nil && n == 0 {
		if st, serr := f.Stat(); serr == nil && st.Size() > off {
			n = int(min(st.Size()-off, int64(len(p))))
		}
	}
	return n, err
}
