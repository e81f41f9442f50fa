package media

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"callrec/media/dtmf"
	"callrec/media/recorder"
	"callrec/media/rtp"
	"callrec/media/sip"
)

// advanceEvery is how often the clock lets a recorder write; writing every 20 ms frame would
// cost a thousand calls 50,000 syscalls a second for nothing.
const advanceEvery = 100 * time.Millisecond

type digitEvent struct {
	ch    recorder.Channel
	digit byte
	at    time.Time
}

// call is one inbound call and, once dialed, its destination leg. The flow runs on the
// INVITE's goroutine; packets, clock ticks and the API touch the state under mu.
type call struct {
	e     *Engine
	id    string
	in    *sip.Inbound
	out   *sip.Outbound
	route Route

	digits chan digitEvent
	wake   chan struct{} // the clock noticed a recording write error
	hash1  dtmf.Sequence

	mu          sync.Mutex
	info        CallInfo
	legs        [2]*leg
	closed      bool
	early       bool
	bridged     bool
	listen      [2]bool
	objected    bool
	interrupted bool
	wantRec     bool
	wantRecBy   string
	rec         *recorder.Recorder
	recPath     string
	recChannels int
	recFailed   string
	callerDir   string
	segStart    time.Time
	lastAdvance time.Time
}

// HandleCall is the sip.Handler: it runs one inbound call from INVITE to hangup.
func (e *Engine) HandleCall(ctx context.Context, in *sip.Inbound) {
	now := time.Now()
	c := &call{e: e, id: randomID(), in: in, digits: make(chan digitEvent, 16), wake: make(chan struct{}, 1),
		hash1: dtmf.Sequence{Digits: "#1", Window: dtmf.DefaultWindow}}
	c.info = CallInfo{ID: c.id, SIPCallID: in.CallID(), A: in.Caller(), B: in.Dialed(), Arrival: now, State: StateRinging, Rec: RecOff}
	log := e.log.With("call", c.id, "sip_call_id", in.CallID(), "a", c.info.A, "b", c.info.B)

	route, err := e.dir.Route(ctx, c.info.B)
	if err != nil {
		if errors.Is(err, ErrUnknownNumber) {
			_ = in.Reject(404, "Not Found")
			return
		}
		log.Error("route lookup failed", "err", err)
		_ = in.Reject(503, "Service Unavailable")
		return
	}
	c.route = route
	c.info.CustomerID, c.info.PoolID = route.CustomerID, route.PoolID
	c.info.SubscriberID, c.info.StartNumber, c.info.C = route.SubscriberID, route.StartNumber, route.Destination
	if route.Recording.Active {
		c.info.Mode = route.Recording.Mode
	}
	offer, err := in.Offer()
	var codec uint8
	if err == nil {
		codec, err = sip.Choose(offer, rtp.PCMU)
	}
	if err != nil {
		log.Info("unusable offer", "err", err)
		_ = in.Reject(488, "Not Acceptable Here")
		return
	}
	caller, err := c.newLeg(recorder.Caller)
	if err != nil {
		log.Error("no RTP port", "err", err)
		_ = in.Reject(503, "Service Unavailable")
		return
	}
	caller.setRemote(offer, codec)
	c.callerDir = sip.AnswerDir(offer.Dir)
	e.add(c)
	e.clock.Add(c)
	in.OnInfo(func(ct string, body []byte) { c.infoDigit(recorder.Caller, ct, body) })
	in.OnOffer(func(m sip.Media) ([]byte, error) { return c.reoffer(recorder.Caller, m) })
	c.changed()

	var outcome Outcome
	if route.Recording.Active {
		outcome = c.runRecorded(ctx)
	} else {
		outcome = c.runPlain(ctx)
	}
	c.end(outcome)
	log.Info("call ended", "outcome", outcome)
}

func (c *call) newLeg(ch recorder.Channel) (*leg, error) {
	sock, err := c.e.ports.Open()
	if err != nil {
		return nil, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	l := &leg{c: c, ch: ch, sock: sock, out: rtp.NewStream(), session: binary.BigEndian.Uint64(b[:]) >> 2}
	if err := c.e.readRTP(sock, l); err != nil {
		sock.Close()
		return nil, err
	}
	c.mu.Lock()
	c.legs[ch] = l
	c.mu.Unlock()
	return l, nil
}

// runPlain is the call without the module: a transparent B2BUA.
func (c *call) runPlain(ctx context.Context) Outcome {
	code, outcome, ok := c.dial(ctx, true)
	if !ok {
		if code != 0 {
			_ = c.in.Reject(code, reasonFor(code))
		}
		return outcome
	}
	if err := c.in.Answer(c.callerSDP()); err != nil {
		_ = c.out.Hangup(context.Background())
		return OutcomeUnanswered
	}
	c.bridge(time.Now())
	return c.talk(ctx)
}

// runRecorded is the call with the module booked: notice, objection, ringback, whisper,
// bridge and recording.
func (c *call) runRecorded(ctx context.Context) Outcome {
	if err := c.in.Answer(c.callerSDP()); err != nil {
		return OutcomeUnanswered
	}
	pol := c.route.Recording
	c.setState(StateAnnouncing)
	if pol.CallerNotice {
		if hung := c.announce(ctx, pol.Prompts); hung {
			return c.hungBeforeBridge(ctx)
		}
	}
	c.mu.Lock()
	c.legs[recorder.Caller].play(ringbackTone, true, time.Now())
	c.mu.Unlock()
	code, outcome, ok := c.dial(ctx, false)
	if !ok {
		if code != 0 {
			c.busyTone(ctx)
		}
		return outcome
	}
	c.mu.Lock()
	objected := c.objected
	c.mu.Unlock()
	if !objected && pol.Prompts.CalleeWhisper != "" {
		samples := c.prompt(pol.Prompts.CalleeWhisper)
		c.mu.Lock()
		c.legs[recorder.Callee].play(samples, false, time.Now())
		c.mu.Unlock()
		if c.wait(ctx, samplesDuration(len(samples)), nil) != waitTimeout {
			return c.hangupBoth(ctx, OutcomeCompleted)
		}
		c.event(EventWhisperPlayed, "system", "")
	}
	now := time.Now()
	c.bridge(now)
	if !objected && pol.Mode != ModeManual {
		if changed, _ := c.setRecording(now, "system", true); changed {
			c.changed()
		}
	} else {
		c.mu.Lock()
		want, by := c.wantRec && !objected, c.wantRecBy
		c.mu.Unlock()
		if want {
			if changed, _ := c.setRecording(now, by, true); changed {
				c.changed()
			}
		}
	}
	return c.talk(ctx)
}

// announce plays the caller notice and honours '*' during it and ObjectionWindow after it.
// It reports whether the caller hung up.
func (c *call) announce(ctx context.Context, p Prompts) bool {
	notice, noticeErr := c.promptErr(p.CallerNotice)
	c.mu.Lock()
	c.listen[recorder.Caller] = true
	c.legs[recorder.Caller].play(notice, false, time.Now())
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.listen[recorder.Caller] = false
		c.mu.Unlock()
	}()
	star := func(d digitEvent) bool { return d.ch == recorder.Caller && d.digit == '*' }
	r := c.wait(ctx, samplesDuration(len(notice)), star)
	if r == waitTimeout {
		detail := ""
		if noticeErr != nil {
			detail = "announcement unreadable, nothing played: " + noticeErr.Error()
		}
		c.event(EventNoticePlayed, "system", detail)
		r = c.wait(ctx, c.e.cfg.ObjectionWindow, star)
	}
	switch r {
	case waitHangup:
		return true
	case waitTimeout:
		return false
	}
	c.mu.Lock()
	c.objected = true
	c.info.Rec = RecObjected
	c.mu.Unlock()
	c.event(EventStarPressed, "caller", "")
	confirm := c.prompt(p.ObjectionConfirmation)
	c.mu.Lock()
	c.legs[recorder.Caller].play(confirm, false, time.Now())
	c.mu.Unlock()
	if c.wait(ctx, samplesDuration(len(confirm)), nil) != waitTimeout {
		return true
	}
	c.event(EventConfirmationPlayed, "system", "")
	return false
}

func (c *call) hungBeforeBridge(ctx context.Context) Outcome {
	if ctx.Err() != nil {
		_ = c.in.Hangup(context.Background())
		return OutcomeInterrupted
	}
	c.mu.Lock()
	objected := c.objected
	c.mu.Unlock()
	if objected {
		return OutcomeObjected
	}
	return OutcomeUnanswered
}

// busyTone tells an already answered caller that the destination failed, then hangs up.
func (c *call) busyTone(ctx context.Context) {
	c.mu.Lock()
	c.early = false
	c.legs[recorder.Caller].play(busyTone, true, time.Now())
	c.mu.Unlock()
	c.wait(ctx, c.e.cfg.BusyTone, nil)
	_ = c.in.Hangup(context.Background())
}

// dial calls the destination and waits for its answer. plain relays 180/183 to the caller.
// On failure it returns the code to give an unanswered caller (0: the caller is gone).
func (c *call) dial(ctx context.Context, plain bool) (int, Outcome, bool) {
	callee, err := c.newLeg(recorder.Callee)
	if err != nil {
		c.e.log.Error("no RTP port for destination leg", "call", c.id, "err", err)
		return 503, OutcomeFailed, false
	}
	c.mu.Lock()
	callerCodec := c.legs[recorder.Caller].codec
	c.early = true
	c.mu.Unlock()
	other := rtp.PCMA
	if callerCodec == rtp.PCMA {
		other = rtp.PCMU
	}
	callee.dtmfPT, callee.hasDTMF = 101, true
	c.mu.Lock()
	offer := sip.BuildSDP(callee.description(c.e.ua.PublicIP(), []uint8{callerCodec, other}, sip.SendRecv))
	c.mu.Unlock()

	dctx, cancel := context.WithTimeout(ctx, c.e.cfg.RingTimeout)
	defer cancel()
	go func() {
		select {
		case <-c.in.Done():
			cancel()
		case <-dctx.Done():
		}
	}()
	out, err := c.e.ua.Dial(dctx, c.route.Destination, c.info.A, offer)
	if err != nil {
		c.e.log.Error("dial destination", "call", c.id, "err", err)
		return 503, OutcomeFailed, false
	}
	c.mu.Lock()
	c.out = out
	c.mu.Unlock()
	out.OnInfo(func(ct string, body []byte) { c.infoDigit(recorder.Callee, ct, body) })
	out.OnOffer(func(m sip.Media) ([]byte, error) { return c.reoffer(recorder.Callee, m) })
	type result struct {
		answer []byte
		code   int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		answer, code, err := out.Wait(dctx, func(code int, body []byte) {
			if len(body) > 0 {
				if m, err := sip.ParseSDP(body); err == nil {
					_ = c.setCalleeRemote(m)
				}
			}
			if plain {
				if len(body) > 0 {
					_ = c.in.Progress(183, c.callerSDP())
				} else if code == 180 {
					_ = c.in.Progress(180, nil)
				}
			}
		})
		done <- result{answer, code, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-dctx.Done():
		// sipgo's CANCEL waits up to 32 s for a 487 that some peers never send; the caller must
		// not wait for it. An answer racing the CANCEL is hung up when it comes.
		go func() {
			if r := <-done; r.err == nil {
				_ = out.Hangup(context.Background())
			}
			out.Close()
		}()
		return c.dialFailed(ctx, dctx, 0)
	}
	answer, code, err := r.answer, r.code, r.err
	if err != nil {
		return c.dialFailed(ctx, dctx, code)
	}
	m, err := sip.ParseSDP(answer)
	if err == nil {
		err = c.setCalleeRemote(m)
	}
	if err != nil {
		c.e.log.Info("destination answer unusable", "call", c.id, "err", err)
		_ = out.Hangup(context.Background())
		return 488, OutcomeFailed, false
	}
	now := time.Now()
	c.mu.Lock()
	c.early = false
	c.info.Answered = now
	c.mu.Unlock()
	return 200, "", true
}

func (c *call) dialFailed(ctx, dctx context.Context, code int) (int, Outcome, bool) {
	select {
	case <-c.in.Done():
		return 0, OutcomeUnanswered, false
	default:
	}
	switch {
	case ctx.Err() != nil:
		return 503, OutcomeInterrupted, false
	case errors.Is(dctx.Err(), context.DeadlineExceeded):
		return 480, OutcomeUnanswered, false
	case code == 486 || code == 600 || code == 603:
		return 486, OutcomeBusy, false
	case code == 408 || code == 480 || code == 487:
		return 480, OutcomeUnanswered, false
	case code >= 400 && code < 700:
		return code, OutcomeFailed, false
	}
	return 502, OutcomeFailed, false
}

func reasonFor(code int) string {
	switch code {
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 488:
		return "Not Acceptable Here"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	}
	return "Call Failed"
}

func (c *call) setCalleeRemote(m sip.Media) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.legs[recorder.Callee]
	codec, err := sip.Choose(m, c.legs[recorder.Caller].codec)
	if err != nil {
		return err
	}
	l.setRemote(m, codec)
	return nil
}

// callerSDP is our answer to the caller's offer.
func (c *call) callerSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.legs[recorder.Caller]
	return sip.BuildSDP(l.description(c.e.ua.PublicIP(), []uint8{l.codec}, c.callerDir))
}

// reoffer answers a re-INVITE (hold, codec change). Media keeps flowing into the same
// recorder, which follows the wall clock, so the timeline stays intact.
func (c *call) reoffer(ch recorder.Channel, m sip.Media) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.legs[ch]
	if l == nil || c.closed {
		return nil, errors.New("media: leg gone")
	}
	codec, err := sip.Choose(m, l.codec)
	if err != nil {
		return nil, err
	}
	l.setRemote(m, codec)
	l.version++
	return sip.BuildSDP(l.description(c.e.ua.PublicIP(), []uint8{codec}, sip.AnswerDir(m.Dir))), nil
}

func (c *call) bridge(now time.Time) {
	c.mu.Lock()
	c.early = false
	c.bridged = true
	c.info.Bridged = now
	if c.info.Answered.IsZero() {
		c.info.Answered = now
	}
	c.info.State = StateConnected
	c.legs[recorder.Caller].src = srcRelay
	c.legs[recorder.Callee].src = srcRelay
	c.listen[recorder.Callee] = c.route.Recording.Active
	c.mu.Unlock()
	c.changed()
}

// talk waits for the end of a bridged call, handling #1 and recording failures.
func (c *call) talk(ctx context.Context) Outcome {
	for {
		select {
		case <-c.in.Done():
			return c.hangupBoth(ctx, OutcomeCompleted)
		case <-c.out.Done():
			return c.hangupBoth(ctx, OutcomeCompleted)
		case <-ctx.Done():
			return c.hangupBoth(ctx, OutcomeInterrupted)
		case d := <-c.digits:
			if d.ch == recorder.Callee && c.hash1.Feed(d.digit, d.at) {
				c.interrupt(d.at)
			}
		case <-c.wake:
			c.changed()
		}
	}
}

func (c *call) hangupBoth(ctx context.Context, o Outcome) Outcome {
	bg := context.Background()
	_ = c.in.Hangup(bg)
	if c.out != nil {
		_ = c.out.Hangup(bg)
	}
	if ctx.Err() != nil {
		return OutcomeInterrupted
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.objected && o == OutcomeCompleted {
		return OutcomeObjected
	}
	return o
}

// interrupt is the callee's #1: recording off for the rest of the call.
func (c *call) interrupt(at time.Time) {
	c.mu.Lock()
	if c.interrupted || c.objected {
		c.mu.Unlock()
		return
	}
	c.interrupted = true
	c.wantRec = false
	c.appendEventLocked(at, EventHash1Pressed, "callee", "")
	c.stopRecLocked(at, "callee")
	c.mu.Unlock()
	c.changed()
}

type waitResult int

const (
	waitTimeout waitResult = iota
	waitDigit
	waitHangup
)

// wait sleeps for d unless a leg hangs up, the engine stops, or stop accepts a digit.
func (c *call) wait(ctx context.Context, d time.Duration, stop func(digitEvent) bool) waitResult {
	t := time.NewTimer(d)
	defer t.Stop()
	var outDone <-chan struct{}
	if c.out != nil {
		outDone = c.out.Done()
	}
	for {
		select {
		case <-t.C:
			return waitTimeout
		case <-c.in.Done():
			return waitHangup
		case <-outDone:
			return waitHangup
		case <-ctx.Done():
			return waitHangup
		case ev := <-c.digits:
			if stop != nil && stop(ev) {
				return waitDigit
			}
		case <-c.wake:
		}
	}
}

func (c *call) prompt(path string) []int16 {
	s, _ := c.promptErr(path)
	return s
}

// promptErr loads an announcement; on failure the call goes on silently and the error is
// returned for the consent trail, which must not claim a notice nobody heard.
func (c *call) promptErr(path string) ([]int16, error) {
	s, err := c.e.prompts.load(path)
	if err != nil {
		c.e.log.Error("announcement unreadable; playing nothing", "call", c.id, "path", path, "err", err)
	}
	return s, err
}

func (c *call) infoDigit(ch recorder.Channel, ct string, body []byte) {
	d, err := dtmf.ParseInfo(ct, body)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.digitLocked(ch, d, time.Now())
	c.mu.Unlock()
}

// digitLocked hands a digit to the flow; a full queue drops it rather than block a reader.
func (c *call) digitLocked(ch recorder.Channel, d byte, at time.Time) {
	select {
	case c.digits <- digitEvent{ch: ch, digit: d, at: at}:
	default:
	}
}

// Tick is the clock's: generated audio due now, and the recorder's periodic write.
func (c *call) Tick(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	for _, l := range c.legs {
		if l != nil && l.src == srcGen {
			l.pace(now)
		}
	}
	if c.rec != nil && now.Sub(c.lastAdvance) >= advanceEvery {
		c.lastAdvance = now
		c.rec.Advance(now)
		if err := c.rec.Err(); err != nil && c.recFailed == "" {
			c.noteFailureLocked(now, err)
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (c *call) noteFailureLocked(now time.Time, err error) {
	c.recFailed = err.Error()
	c.info.Rec = RecFailed
	c.appendEventLocked(now, EventRecordingFailed, "system", err.Error())
	c.e.log.Error("recording failed; the call goes on", "call", c.id, "path", c.recPath, "err", err)
}

func (c *call) setState(s CallState) {
	c.mu.Lock()
	c.info.State = s
	c.mu.Unlock()
	c.changed()
}

func (c *call) event(kind, by, detail string) {
	c.mu.Lock()
	c.appendEventLocked(time.Now(), kind, by, detail)
	c.mu.Unlock()
	c.changed()
}

func (c *call) appendEventLocked(at time.Time, kind, by, detail string) {
	c.info.Events = append(c.info.Events, Event{At: at, Kind: kind, By: by, Detail: detail})
}

func (c *call) changed() {
	c.e.sink.CallChanged(context.Background(), c.snapshot())
}

// end closes the recording and the sockets and reports the final state.
func (c *call) end(o Outcome) {
	c.e.clock.Remove(c)
	now := time.Now()
	c.mu.Lock()
	c.closed = true
	if c.rec != nil {
		c.closeSegmentLocked(now)
		res, err := c.rec.Close(now)
		if err == nil {
			err = c.rec.Err()
		}
		if err != nil && c.recFailed == "" {
			c.noteFailureLocked(now, err)
		}
		c.info.Recording = &RecordingInfo{Path: c.recPath, Channels: res.Channels, Size: res.Size,
			Duration: res.Duration, Recorded: res.Recorded, Failed: c.recFailed}
		if len(res.Segments) > 0 {
			c.info.Segments = c.info.Segments[:0]
			for _, s := range res.Segments {
				c.info.Segments = append(c.info.Segments, Segment{Start: s.Start, End: s.End})
			}
		}
	}
	c.info.State = StateEnded
	c.info.Ended = now
	c.info.Outcome = o
	if c.info.Rec == RecRecording {
		c.info.Rec = RecStopped
	}
	legs := c.legs
	c.mu.Unlock()
	for _, l := range legs {
		if l != nil {
			_ = l.sock.Close()
		}
	}
	if c.out != nil {
		c.out.Close()
	}
	c.e.remove(c)
	c.e.sink.CallEnded(context.Background(), c.snapshot())
}

func (c *call) snapshot() CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	info := c.info
	info.Events = append([]Event(nil), c.info.Events...)
	info.Segments = append([]Segment(nil), c.info.Segments...)
	if !c.closed && c.rec != nil && c.rec.Active() && !c.segStart.IsZero() {
		now := time.Now()
		info.Segments = append(info.Segments, Segment{Start: c.segStart.Sub(c.info.Bridged), End: now.Sub(c.info.Bridged)})
	}
	for i, l := range c.legs {
		if l != nil {
			info.PacketsIn[i], info.PacketsOut[i] = l.rx, l.tx
		}
	}
	info.Recorded = 0
	for _, s := range info.Segments {
		info.Recorded += s.End - s.Start
	}
	if c.info.Recording != nil {
		r := *c.info.Recording
		info.Recording = &r
		info.Recorded = r.Recorded
	} else if c.rec != nil {
		res := c.rec.Snapshot(time.Now())
		info.Recording = &RecordingInfo{Path: c.recPath, Channels: c.recChannels, Size: res.Size,
			Duration: res.Duration, Recorded: res.Recorded, Failed: c.recFailed}
	}
	return info
}
