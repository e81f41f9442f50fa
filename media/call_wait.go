package media

// What a call waits for while it runs: a timeout or a key press (from RTP or SIP INFO), and the
// announcements it plays.

import (
	"context"
	"time"

	"callrec/media/dtmf"
	"callrec/media/recorder"
)

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
