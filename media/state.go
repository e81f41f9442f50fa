package media

// A call's state as others see it: the clock's tick, the consent trail, the snapshot, and
// the recording switched on and off.

import (
	"context"
	"time"

	"callrec/media/recorder"
)

// advanceEvery is how often the clock lets a recorder write; writing every 20 ms frame would
// cost a thousand calls 50,000 syscalls a second for nothing.
const advanceEvery = 100 * time.Millisecond

// Tick is the clock's: generated audio due now, and the recorder's periodic step. The
// recorder is advanced outside the call's lock to the packet readers' horizon, so audio still
// queued in a socket is never committed as silence (the file runs ahead of it provisionally,
// towards now); its file is written by the recorder's writer pool.
func (c *call) Tick(now time.Time) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	for _, l := range c.legs {
		if l != nil && l.src == srcGen {
			l.pace(now)
		}
	}
	c.rtcpTickLocked(now)
	rec := c.rec
	due := rec != nil && now.Sub(c.lastAdvance) >= advanceEvery
	if due {
		c.lastAdvance = now
	}
	c.mu.Unlock()
	if !due {
		return
	}
	h, lagged := c.e.horizon(now)
	rec.AdvanceTo(h, now)
	if lagged {
		c.mu.Lock()
		c.info.ReadersLagged = true
		c.mu.Unlock()
	}
	if err := rec.Err(); err != nil {
		c.mu.Lock()
		failedNow := c.recFailed == "" && !c.closed
		if failedNow {
			c.noteFailureLocked(now, err)
		}
		c.mu.Unlock()
		if failedNow {
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

func (c *call) event(kind EventKind, by, detail string) {
	c.mu.Lock()
	c.appendEventLocked(time.Now(), kind, by, detail)
	c.mu.Unlock()
	c.changed()
}

func (c *call) appendEventLocked(at time.Time, kind EventKind, by, detail string) {
	c.info.Events = append(c.info.Events, Event{At: at, Kind: kind, By: by, Detail: detail})
}

func (c *call) changed() {
	c.e.sink.CallChanged(context.Background(), c.snapshot())
}

func (c *call) snapshot() CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshotLocked()
}

func (c *call) snapshotLocked() CallInfo {
	info := c.info
	info.Events = append([]Event(nil), c.info.Events...)
	info.Segments = append([]Segment(nil), c.info.Segments...)
	if !c.closed && c.rec != nil && c.rec.Active() && !c.segStart.IsZero() {
		now := time.Now()
		info.Segments = append(info.Segments, Segment{Start: c.segStart.Sub(c.info.Bridged), End: now.Sub(c.info.Bridged)})
	}
	for i, l := range c.legs {
		if l != nil {
			info.PacketsIn[i], info.PacketsOut[i], info.PacketsRelayed[i] = l.rx, l.tx, l.relayed
			info.PacketsStale[i] = l.stale
			info.RTPForeign[i] = l.sock.Foreign.Load()
			info.RTPKernelDrops[i] = l.sock.KernelDrops.Load()
			info.RTCPIn[i], info.RTCPOut[i] = l.sock.RTCPIn.Load(), l.sock.RTCPOut.Load()
			info.SRTP[i], info.SRTPFailed[i] = l.sock.Secure(), l.sock.SRTPFailed.Load()
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

// setRecording is Start/StopRecording for one call. It reports whether anything changed.
// The first start gives the call its recorder at once (packets land in it from then on) and
// opens the file afterwards, outside the call's lock (under recMu), so a slow disk never
// holds up the call's packets.
func (c *call) setRecording(now time.Time, by string, on bool) (bool, error) {
	c.recMu.Lock()
	defer c.recMu.Unlock()
	c.mu.Lock()
	changed, err := c.setRecordingLocked(now, by, on)
	c.mu.Unlock()
	if c.openRecording(now) {
		changed = true
	}
	return changed, err
}

func (c *call) setRecordingLocked(now time.Time, by string, on bool) (bool, error) {
	switch {
	case c.closed:
		return false, ErrNoSuchCall
	case !c.route.Recording.Active:
		return false, ErrRecordingNotBooked
	case c.objected:
		return false, ErrCallerObjected
	}
	if !on {
		c.wantRec = false
		return c.stopRecLocked(now, by), nil
	}
	if c.interrupted {
		return false, ErrCalleeInterrupted
	}
	if !c.bridged {
		// Started before the bridge (manual mode, agent quick on the button): begins at the bridge.
		c.wantRec, c.wantRecBy = true, by
		return false, nil
	}
	if c.rec == nil && c.recFailed == "" {
		c.rec = recorder.New(recorder.Options{Stereo: c.route.Recording.Stereo, Start: c.info.Bridged, Inactive: true})
		c.recChannels = 1
		if c.route.Recording.Stereo {
			c.recChannels = 2
		}
		c.lastAdvance = now
	}
	return c.startRecLocked(now, by), nil
}

// openRecording gives a new recorder its file; the caller holds recMu, not mu. On failure the
// start is undone (the consent trail must not claim a recording that never existed) and the
// failure noted. It reports whether it failed (a change to report).
func (c *call) openRecording(now time.Time) bool {
	c.mu.Lock()
	rec, need := c.rec, c.rec != nil && c.recPath == ""
	c.mu.Unlock()
	if !need {
		return false
	}
	dir, base := recordingName(c.route, c.info.A, c.info.B, c.info.Arrival)
	path, err := rec.OpenClaimed(c.e.root, dir, base, c.e.cfg.ClaimRecordingPath)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.recPath = path
		return false
	}
	c.rec, c.segStart = nil, time.Time{}
	for i := len(c.info.Events) - 1; i >= 0; i-- {
		if c.info.Events[i].Kind == EventRecordingStarted {
			c.info.Events = append(c.info.Events[:i], c.info.Events[i+1:]...)
			break
		}
	}
	c.noteFailureLocked(now, err)
	return true
}

// startRecLocked switches the recording on; setRecording created the file on the first
// start, with Start = bridge so it spans the whole connected call even when recording began
// later.
func (c *call) startRecLocked(now time.Time, by string) bool {
	if c.rec == nil {
		return false
	}
	if c.rec.Active() {
		return false
	}
	c.rec.SetActive(true, now)
	c.segStart = now
	if c.recFailed == "" {
		c.info.Rec = RecRecording
	}
	c.appendEventLocked(now, EventRecordingStarted, by, "")
	return true
}

func (c *call) stopRecLocked(now time.Time, by string) bool {
	if c.rec == nil || !c.rec.Active() {
		return false
	}
	c.rec.SetActive(false, now)
	c.closeSegmentLocked(now)
	if c.recFailed == "" {
		c.info.Rec = RecStopped
	}
	c.appendEventLocked(now, EventRecordingStopped, by, "")
	return true
}

func (c *call) closeSegmentLocked(now time.Time) {
	if c.segStart.IsZero() {
		return
	}
	c.info.Segments = append(c.info.Segments, Segment{Start: c.segStart.Sub(c.info.Bridged), End: now.Sub(c.info.Bridged)})
	c.segStart = time.Time{}
}
