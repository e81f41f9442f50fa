package media

import (
	"time"

	"callrec/media/recorder"
)

// setRecording is Start/StopRecording for one call. It reports whether anything changed.
func (c *call) setRecording(now time.Time, by string, on bool) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
	return c.startRecLocked(now, by), nil
}

// startRecLocked creates the file on the first start, with Start = bridge so it spans the
// whole connected call even when recording began later.
func (c *call) startRecLocked(now time.Time, by string) bool {
	if c.recFailed != "" && c.rec == nil {
		return false
	}
	if c.rec == nil {
		pol := c.route.Recording
		dir, base := recordingName(c.route, c.info.A, c.info.B, c.info.Arrival)
		rec, path, err := recorder.Create(c.e.root, dir, base, recorder.Options{Stereo: pol.Stereo, Start: c.info.Bridged, Inactive: true})
		if err != nil {
			c.noteFailureLocked(now, err)
			return true
		}
		c.rec, c.recPath = rec, path
		c.recChannels = 1
		if pol.Stereo {
			c.recChannels = 2
		}
		c.lastAdvance = now
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
