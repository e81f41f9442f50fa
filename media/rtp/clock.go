package rtp

import (
	"context"
	"sync"
	"time"
)

// Frame is the packet time of everything the engine generates itself.
const Frame = 20 * time.Millisecond

// Ticker is what the clock drives: a call's generated audio and its recorder.
type Ticker interface {
	Tick(now time.Time)
}

// Clock is the one pacing goroutine for all calls. It only says "now"; each Ticker works out
// how many frames are due since its own start, because Go tickers drop ticks under load and
// counting ticks would drift.
type Clock struct {
	period time.Duration

	mu    sync.Mutex
	subs  []Ticker
	index map[Ticker]int
	snap  []Ticker
}

// NewClock makes a clock that ticks every period (Frame when zero).
func NewClock(period time.Duration) *Clock {
	if period <= 0 {
		period = Frame
	}
	return &Clock{period: period, index: map[Ticker]int{}}
}

// Add registers t; it is ticked until Remove.
func (c *Clock) Add(t Ticker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.index[t]; ok {
		return
	}
	c.index[t] = len(c.subs)
	c.subs = append(c.subs, t)
}

// Remove unregisters t. After it returns t may still get one Tick already under way.
func (c *Clock) Remove(t Ticker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[t]
	if !ok {
		return
	}
	last := len(c.subs) - 1
	c.subs[i] = c.subs[last]
	c.index[c.subs[i]] = i
	c.subs[last] = nil
	c.subs = c.subs[:last]
	delete(c.index, t)
}

// Len is the number of registered tickers.
func (c *Clock) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.subs)
}

// Run ticks every registered Ticker each period until ctx ends.
func (c *Clock) Run(ctx context.Context) {
	t := time.NewTicker(c.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// The tick's own time may be stale when the clock fell behind.
			c.tick(time.Now())
		}
	}
}

func (c *Clock) tick(now time.Time) {
	c.mu.Lock()
	c.snap = append(c.snap[:0], c.subs...)
	c.mu.Unlock()
	for i, s := range c.snap {
		s.Tick(now)
		c.snap[i] = nil
	}
}
