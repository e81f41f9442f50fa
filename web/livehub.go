package web

import (
	"sync"

	"callrec/media"
)

// LiveEngine is what the Control Panel needs of the recording engine (*media.Engine has it).
type LiveEngine interface {
	Calls() []media.CallInfo
	StartRecording(id, by string) (media.CallInfo, error)
	StopRecording(id, by string) (media.CallInfo, error)
}

// liveHub tells the Live calls streams that a customer's calls changed. A subscriber holds a
// one-slot wake-up, never the events themselves: a publish that finds the slot full is merged
// into the pending one, and the stream answers every wake-up with the customer's full list
// fresh from the engine. So the engine never waits for a slow browser, nothing queues up, and
// an overflow cannot lose a state (drop and resync by construction).
type liveHub struct {
	mu     sync.Mutex
	subs   map[uint]map[*liveSub]struct{} // by customer; 0: the platform admin's, woken for all
	closed chan struct{}
	once   sync.Once
}

type liveSub struct {
	customer uint // 0: every customer (platform admin)
	wake     chan struct{}
}

func newLiveHub() *liveHub {
	return &liveHub{subs: map[uint]map[*liveSub]struct{}{}, closed: make(chan struct{})}
}

func (h *liveHub) subscribe(customer uint) *liveSub {
	s := &liveSub{customer: customer, wake: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.subs[customer] == nil {
		h.subs[customer] = map[*liveSub]struct{}{}
	}
	h.subs[customer][s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (h *liveHub) unsubscribe(s *liveSub) {
	h.mu.Lock()
	delete(h.subs[s.customer], s)
	if len(h.subs[s.customer]) == 0 {
		delete(h.subs, s.customer)
	}
	h.mu.Unlock()
}

// publish wakes the streams of customer (and the platform admin's); it never blocks.
func (h *liveHub) publish(customer uint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	wake(h.subs[customer])
	if customer != 0 {
		wake(h.subs[0])
	}
}

func wake(subs map[*liveSub]struct{}) {
	for s := range subs {
		select {
		case s.wake <- struct{}{}:
		default: // a wake-up is pending already; it will fetch this change too
		}
	}
}

func (h *liveHub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, subs := range h.subs {
		n += len(subs)
	}
	return n
}

// close ends every stream (for a graceful shutdown: http.Server.Shutdown waits for them).
func (h *liveHub) close() { h.once.Do(func() { close(h.closed) }) }

// CallChanged is for the engine's Sink (after the call is saved): the customer's Live calls
// pages update. Quick and non-blocking.
func (s *Server) CallChanged(c media.CallInfo) { s.hub.publish(c.CustomerID) }

// CallEnded is for the engine's Sink (after the final state is saved): the call leaves the
// Live calls pages.
func (s *Server) CallEnded(c media.CallInfo) { s.hub.publish(c.CustomerID) }

// CloseStreams ends the open Live calls event streams. Call it when shutting down, e.g. with
// http.Server.RegisterOnShutdown, since Shutdown waits for every open request.
func (s *Server) CloseStreams() { s.hub.close() }
