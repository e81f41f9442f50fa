package sip

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// limitHandler bounds what a remote peer can make us log through sipgo: every datagram that does
// not parse is an ERROR record carrying the datagram, so a flood of garbage would otherwise flood
// the log. Values are cut to maxValue bytes and at most perSecond records pass each second; the
// rest are counted and reported once in the next second.
type limitHandler struct {
	next      slog.Handler
	perSecond int
	state     *limitState // shared by the handlers WithAttrs/WithGroup derive
}

type limitState struct {
	mu      sync.Mutex
	window  time.Time
	passed  int
	dropped int
}

const maxValue = 256

func newLimitHandler(next slog.Handler, perSecond int) *limitHandler {
	return &limitHandler{next: next, perSecond: perSecond, state: &limitState{}}
}

func (l *limitHandler) Enabled(ctx context.Context, lvl slog.Level) bool {
	return l.next.Enabled(ctx, lvl)
}

func (l *limitHandler) Handle(ctx context.Context, r slog.Record) error {
	s := l.state
	s.mu.Lock()
	dropped := 0
	if r.Time.Sub(s.window) >= time.Second || r.Time.Before(s.window) {
		dropped, s.window, s.passed, s.dropped = s.dropped, r.Time, 0, 0
	}
	s.passed++
	over := s.passed > l.perSecond
	if over {
		s.dropped++
	}
	s.mu.Unlock()
	if dropped > 0 {
		note := slog.NewRecord(r.Time, slog.LevelWarn, "sip: log records dropped (rate limit)", 0)
		note.AddAttrs(slog.Int("dropped", dropped))
		_ = l.next.Handle(ctx, note)
	}
	if over {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, cut(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(cutAttr(a))
		return true
	})
	return l.next.Handle(ctx, out)
}

func (l *limitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	for i := range as {
		as[i] = cutAttr(as[i])
	}
	return &limitHandler{next: l.next.WithAttrs(as), perSecond: l.perSecond, state: l.state}
}

func (l *limitHandler) WithGroup(name string) slog.Handler {
	return &limitHandler{next: l.next.WithGroup(name), perSecond: l.perSecond, state: l.state}
}

func cut(s string) string {
	if len(s) <= maxValue {
		return s
	}
	return s[:maxValue] + "…"
}

func cutAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, cut(v.String()))
	case slog.KindAny:
		return slog.String(a.Key, cut(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}
