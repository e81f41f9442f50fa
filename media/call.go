package media

// One call's flow from INVITE to hangup: announcements, objection, bridge, talk, end.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	"callrec/media/dtmf"
	"callrec/media/recorder"
	"callrec/media/rtp"
	"callrec/media/sip"
)

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

	// recMu serialises creating and closing the recording, which touch the disk, without
	// holding mu, which every packet of the call takes.
	recMu sync.Mutex

	mu          sync.Mutex
	info        CallInfo
	legs        [2]*leg
	closed      bool
	early       bool
	bridged     bool
	listen      [2]bool
	held        [2]bool // the leg's peer put the call on hold (its direction is not sendrecv)
	lateCaller  bool    // the INVITE had no SDP: our offer in the 200, the answer in the ACK
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
	hungUp      time.Time // when a bridged call's first side left
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
	release, ok := e.caps.take(route)
	if !ok {
		log.Info("call refused: pool or customer at its cap of concurrent calls", "pool", route.PoolID, "customer", route.CustomerID)
		_ = in.Reject(486, "Busy Here")
		return
	}
	defer release()
	c.route = route
	c.info.CustomerID, c.info.PoolID = route.CustomerID, route.PoolID
	c.info.SubscriberID, c.info.StartNumber, c.info.C = route.SubscriberID, route.StartNumber, route.Destination
	if route.Recording.Active {
		c.info.Mode = route.Recording.Mode
	}
	c.info.Diversion, c.info.HistoryInfo = in.Diversion(), in.HistoryInfo()
	c.lateCaller = in.LateOffer()
	var offer sip.Media
	codec := rtp.PCMU
	if !c.lateCaller {
		offer, err = in.Offer()
		if err == nil {
			codec, err = sip.Choose(offer, rtp.PCMU)
		}
		if err != nil {
			log.Info("unusable offer", "err", err)
			_ = in.Reject(488, "Not Acceptable Here")
			return
		}
	}
	caller, err := c.newLeg(recorder.Caller)
	if err != nil {
		log.Error("no RTP port", "err", err)
		_ = in.Reject(503, "Service Unavailable")
		return
	}
	caller.sock.SetSignalling(in.Source())
	c.callerDir = sip.SendRecv
	if c.lateCaller {
		caller.codec = codec
		caller.dtmfPT, caller.hasDTMF = 101, true
		if in.Transport() == "TLS" {
			// Keys may go only where signalling is private: offered as best effort.
			k := sip.NewCrypto(1, "AES_CM_128_HMAC_SHA1_80")
			caller.local, caller.bestEffort = &k, true
		}
	} else {
		c.mu.Lock()
		err = caller.setRemote(offer, codec, true)
		caller.negotiated = true
		c.mu.Unlock()
		if err != nil {
			log.Info("offer refused", "err", err)
			_ = caller.sock.Close()
			_ = in.Reject(488, "Not Acceptable Here")
			return
		}
		c.callerDir = sip.AnswerDir(offer.Dir)
	}
	e.add(c)
	e.clock.Add(c)
	in.OnInfo(func(ct string, body []byte) { c.infoDigit(recorder.Caller, ct, body) })
	c.watchSession(recorder.Caller, &in.Leg)
	c.changed()

	var outcome Outcome
	if route.Recording.Active {
		outcome = c.runRecorded(ctx)
	} else {
		outcome = c.runPlain(ctx)
	}
	c.end(outcome)
	log.Info("call ended", append([]any{"outcome", outcome}, c.recordingAttrs()...)...)
}

// recordingAttrs are the recording's figures for the "call ended" line, per leg as
// caller/callee: what the sender left out (first packet, end of the last, skipped timestamps,
// packets that reached the machine after their place was final) and what the engine lost
// (late, overrun), so that a silence in the file can be put down to the one or the other.
func (c *call) recordingAttrs() []any {
	c.mu.Lock()
	ri := c.info.Recording
	c.mu.Unlock()
	if ri == nil {
		return nil
	}
	ms := func(d [2]time.Duration) string {
		f := func(d time.Duration) string {
			if d < 0 {
				return "-1" // none came
			}
			return strconv.FormatInt(d.Milliseconds(), 10)
		}
		return f(d[0]) + "/" + f(d[1])
	}
	return []any{"recording", ri.Path, "first_ms", ms(ri.FirstArrival), "sent_until_ms", ms(ri.SentUntil),
		"skipped_ms", ms(ri.Skipped), "arrived_late_ms", ms(ri.ArrivedLate), "late_ms", ms(ri.Late),
		"overrun_ms", ms(ri.Overrun)}
}

func (c *call) newLeg(ch recorder.Channel) (*leg, error) {
	sock, err := c.e.ports.Open()
	if err != nil {
		return nil, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	l := &leg{c: c, ch: ch, sock: sock, out: rtp.NewStream(), session: binary.BigEndian.Uint64(b[:]) >> 2,
		cname: hex.EncodeToString(b[:])}
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
	if !c.callerAnswered() {
		return c.hangupBoth(ctx, OutcomeFailed)
	}
	c.bridge(false)
	return c.talk(ctx)
}

// callerAnswered takes the caller's answer from its ACK after a late offer; false (noted in
// the trail) when there is none we can use: the call cannot go on.
func (c *call) callerAnswered() bool {
	if !c.lateCaller {
		return true
	}
	m, err := c.in.AckAnswer()
	if err == nil {
		err = c.takeAnswer(recorder.Caller, m)
	}
	if err != nil {
		c.e.log.Info("caller's ACK brought no usable answer", "call", c.id, "err", err)
		c.event(EventSignallingError, "caller", "the ACK brought no usable answer to our offer: "+err.Error())
		return false
	}
	return true
}

// runRecorded is the call with the module booked: notice, objection, ringback, whisper,
// bridge and recording.
func (c *call) runRecorded(ctx context.Context) Outcome {
	if err := c.in.Answer(c.callerSDP()); err != nil {
		return OutcomeUnanswered
	}
	if !c.callerAnswered() {
		_ = c.in.Hangup(context.Background())
		return OutcomeFailed
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
	c.bridge(!objected && pol.Mode != ModeManual)
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

// bridge connects the legs. The recording starts with it, in the same critical section so no
// packet after the bridge misses the recorder, when auto says so (automatic mode, no
// objection) or an agent pressed start before the bridge. The bridge time is taken inside
// it: every packet handled before arrived before it, every later one is recorded.
func (c *call) bridge(auto bool) {
	c.recMu.Lock()
	c.mu.Lock()
	now := time.Now()
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
	bridged := c.snapshotLocked() // reported as its own state, before the recording's start
	by := c.wantRecBy
	if auto {
		by = "system"
	}
	recChanged := false
	if c.route.Recording.Active && !c.objected && (auto || c.wantRec) {
		recChanged, _ = c.setRecordingLocked(now, by, true)
	}
	c.mu.Unlock()
	if c.openRecording(now) {
		recChanged = true
	}
	c.recMu.Unlock()
	c.e.sink.CallChanged(context.Background(), bridged)
	if recChanged {
		c.changed()
	}
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
	// The conversation ended now, when one side left, not once the other side has
	// acknowledged our BYE: the call's end and its file's end.
	end := time.Now()
	// The BYE came a moment before this goroutine noticed it.
	if at := c.in.RemoteHangupAt(); !at.IsZero() && at.Before(end) {
		end = at
	}
	if c.out != nil {
		if at := c.out.RemoteHangupAt(); !at.IsZero() && at.Before(end) {
			end = at
		}
	}
	c.mu.Lock()
	c.hungUp = end
	c.mu.Unlock()
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

// end closes the recording and the sockets and reports the final state. The file is closed
// outside the call's lock: Close waits for the disk.
func (c *call) end(o Outcome) {
	c.e.clock.Remove(c)
	c.recMu.Lock() // no file is being created now, and none will be
	defer c.recMu.Unlock()
	c.mu.Lock()
	now := c.hungUp
	if now.IsZero() {
		now = time.Now()
	}
	recording := c.rec != nil
	c.mu.Unlock()
	if recording {
		// Packets that came before the end but are still queued in a socket go in first.
		c.e.awaitReaders(now)
	}
	c.mu.Lock()
	c.closed = true
	rec := c.rec
	if rec != nil {
		c.closeSegmentLocked(now)
	}
	c.mu.Unlock()
	if rec != nil {
		res, err := rec.Close(now)
		if err == nil {
			err = rec.Err()
		}
		c.mu.Lock()
		if err != nil && c.recFailed == "" {
			c.noteFailureLocked(now, err)
		}
		c.info.Recording = &RecordingInfo{Path: c.recPath, Channels: res.Channels, Size: res.Size,
			Duration: res.Duration, Recorded: res.Recorded, Failed: c.recFailed, Late: res.Late,
			Skipped: res.Skipped, Overrun: res.Overrun, FirstArrival: res.FirstArrival, SentUntil: res.SentUntil,
			LatePackets: res.LatePackets, OverrunPackets: res.OverrunPackets,
			ArrivedLate: res.ArrivedLate, ArrivedLatePackets: res.ArrivedLatePackets}
		if len(res.Segments) > 0 {
			c.info.Segments = c.info.Segments[:0]
			for _, s := range res.Segments {
				c.info.Segments = append(c.info.Segments, Segment{Start: s.Start, End: s.End})
			}
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
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
