package sip

import (
	"net/netip"
	"sync"
	"time"
)

// Who may start a call, and how many at once (issue 15: trust boundary and admission): INVITEs
// and requests outside a dialog only from trusted networks; per source address a rate of new
// INVITEs and a cap on its calls not yet confirmed. The limits are checked before a call takes
// anything (an RTP port, a destination leg), and a refused INVITE holds nothing.

// trust decides who may open a dialog.
type trust struct {
	nets  []netip.Prefix
	trunk []netip.Addr
}

func (t *trust) allows(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, n := range t.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func (t *trust) isTrunk(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, a := range t.trunk {
		if a == ip {
			return true
		}
	}
	return false
}

// sourceIP is the address a request came from.
func sourceIP(source string) netip.Addr {
	ap, err := netip.ParseAddrPort(source)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// admission holds the per-source counters. Entries of sources that are idle (full bucket,
// nothing pending) are dropped as the map is swept, so it stays as small as the set of busy
// sources.
type admission struct {
	rate    float64 // tokens a second; 0: no rate limit
	burst   float64
	maxOpen int // unconfirmed calls per source; 0: no cap

	mu      sync.Mutex
	sources map[netip.Addr]*sourceState
	swept   time.Time
}

type sourceState struct {
	tokens float64
	at     time.Time
	open   int
}

func newAdmission(rate, maxOpen int) *admission {
	return &admission{rate: float64(rate), burst: 2 * float64(rate), maxOpen: maxOpen, sources: map[netip.Addr]*sourceState{}}
}

// enter admits a new INVITE from ip, or reports why not. release must be called once when the
// call is confirmed or over; it is safe to call more than once.
func (a *admission) enter(ip netip.Addr, now time.Time) (release func(), reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweep(now)
	s := a.sources[ip]
	if s == nil {
		s = &sourceState{tokens: a.burst, at: now}
		a.sources[ip] = s
	}
	if a.rate > 0 {
		s.tokens = min(a.burst, s.tokens+now.Sub(s.at).Seconds()*a.rate)
		s.at = now
		if s.tokens < 1 {
			return nil, "INVITE rate"
		}
	}
	if a.maxOpen > 0 && s.open >= a.maxOpen {
		return nil, "unanswered calls"
	}
	if a.rate > 0 {
		s.tokens--
	}
	s.open++
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			s.open--
			a.mu.Unlock()
		})
	}, ""
}

// unconfirmed is how many calls from ip are not yet confirmed.
func (a *admission) unconfirmed(ip netip.Addr) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.sources[ip]; s != nil {
		return s.open
	}
	return 0
}

func (a *admission) sweep(now time.Time) {
	if now.Sub(a.swept) < 10*time.Second {
		return
	}
	a.swept = now
	for ip, s := range a.sources {
		full := a.rate == 0 || s.tokens+now.Sub(s.at).Seconds()*a.rate >= a.burst
		if s.open == 0 && full {
			delete(a.sources, ip)
		}
	}
}
