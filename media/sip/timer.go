package sip

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	gosip "github.com/emiago/sipgo/sip"
)

// Session timers (RFC 4028): each leg has its own. The refresher sends a re-INVITE or UPDATE
// every half interval; when the other side is the refresher and nothing came for the interval
// less a margin (min(32 s, interval/3), RFC 4028 10), the session is over and the call ends
// cleanly (OnSessionExpired). An interval below our Min-SE gets 422 with ours.

// sessionTimer is one leg's timer state.
type sessionTimer struct {
	mu        sync.Mutex
	interval  time.Duration // 0: no session timer on this leg
	weRefresh bool
	peerTimer bool // the peer supports timer (it may be told refresher=uac)
	t         *time.Timer
	stopped   bool
}

// sessionExpires reads a Session-Expires (or its compact form x) header: the interval and the
// refresher parameter ("uac", "uas" or "").
func sessionExpires(m gosip.Message) (time.Duration, string, bool) {
	h := firstHeader(m, "Session-Expires", "x")
	if h == nil {
		return 0, "", false
	}
	parts := strings.Split(h.Value(), ";")
	secs, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || secs <= 0 {
		return 0, "", false
	}
	refresher := ""
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "refresher") {
			refresher = strings.ToLower(strings.TrimSpace(v))
		}
	}
	if refresher != "uac" && refresher != "uas" {
		refresher = ""
	}
	return time.Duration(secs) * time.Second, refresher, true
}

// firstHeader is the first of m's headers under any of names (a full and a compact form).
func firstHeader(m gosip.Message, names ...string) gosip.Header {
	for _, n := range names {
		if hs := m.GetHeaders(n); len(hs) > 0 {
			return hs[0]
		}
	}
	return nil
}

// minSEOf reads a Min-SE header (0: none).
func minSEOf(m gosip.Message) time.Duration {
	h := firstHeader(m, "Min-SE")
	if h == nil {
		return 0
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs <= 0 {
		return 0
	}
	return time.Duration(secs) * time.Second
}

// hasOption tells whether a Supported or Require header (or their compact forms) names tag.
func hasOption(m gosip.Message, header, tag string) bool {
	names := []string{header}
	switch header {
	case "Supported":
		names = append(names, "k")
	}
	for _, n := range names {
		for _, h := range m.GetHeaders(n) {
			for _, t := range strings.Split(h.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(t), tag) {
					return true
				}
			}
		}
	}
	return false
}

// allows tells whether the peer's Allow header (in its INVITE or answer) names method.
func allows(m gosip.Message, method string) bool {
	for _, h := range m.GetHeaders("Allow") {
		for _, t := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(t), method) {
				return true
			}
		}
	}
	return false
}

func secs(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// arm (re)starts the leg's timer: interval 0 stops it.
func (l *Leg) arm(interval time.Duration, weRefresh, peerTimer bool) {
	st := &l.timer
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.t != nil {
		st.t.Stop()
		st.t = nil
	}
	st.interval, st.weRefresh, st.peerTimer = interval, weRefresh, peerTimer
	if interval <= 0 || st.stopped {
		return
	}
	if weRefresh {
		st.t = time.AfterFunc(interval/2, l.refresh)
		return
	}
	margin := min(32*time.Second, interval/3)
	st.t = time.AfterFunc(interval-margin, l.expire)
}

// rearm restarts the current timer: a refresh came or went through.
func (l *Leg) rearm() {
	l.timer.mu.Lock()
	interval, we, peer := l.timer.interval, l.timer.weRefresh, l.timer.peerTimer
	l.timer.mu.Unlock()
	l.arm(interval, we, peer)
}

func (l *Leg) stopTimer() {
	st := &l.timer
	st.mu.Lock()
	st.stopped = true
	if st.t != nil {
		st.t.Stop()
	}
	st.mu.Unlock()
}

// SessionInterval is the leg's negotiated session interval (0: none) and whether we refresh.
func (l *Leg) SessionInterval() (time.Duration, bool) {
	l.timer.mu.Lock()
	defer l.timer.mu.Unlock()
	return l.timer.interval, l.timer.weRefresh
}

// OnSessionExpired sets what to do when the peer stopped refreshing (or our refresh failed):
// the engine ends the call.
func (l *Leg) OnSessionExpired(f func()) {
	l.mu.Lock()
	l.onExpired = f
	l.mu.Unlock()
}

func (l *Leg) expire() {
	if l.ctx.Err() != nil {
		return
	}
	l.expired.Store(true)
	l.mu.Lock()
	f := l.onExpired
	l.mu.Unlock()
	if f != nil {
		f()
	}
}

// SessionExpired tells whether the leg's session timer ran out.
func (l *Leg) SessionExpired() bool { return l.expired.Load() }

// refresh is the refresher's: an UPDATE without a body when the peer allows UPDATE (RFC 4028
// 9 prefers it: no offer/answer), else a re-INVITE with our current SDP.
func (l *Leg) refresh() {
	if l.ctx.Err() != nil || l.request == nil {
		return
	}
	ctx, cancel := context.WithTimeout(l.ctx, 32*time.Second)
	defer cancel()
	var res *gosip.Response
	var err error
	if l.peerUpdate {
		req := gosip.NewRequest(gosip.UPDATE, l.target())
		l.timerHeaders(req)
		res, err = l.request(ctx, req)
	} else {
		res, err = l.reinvite(ctx, nil)
	}
	switch {
	case err == nil && res.IsSuccess():
		if iv, refresher, ok := sessionExpires(res); ok {
			l.arm(iv, refresher != "uas", true)
		} else {
			l.rearm()
		}
	case err == nil && res.StatusCode == 491:
		// Glare with the peer's own request: try again soon (RFC 3261 14.1).
		l.timer.mu.Lock()
		if !l.timer.stopped {
			l.timer.t = time.AfterFunc(2*time.Second, l.refresh)
		}
		l.timer.mu.Unlock()
	default:
		// 408, 481 or no answer: the session is gone (RFC 4028 10).
		l.expire()
	}
}

// timerHeaders adds our session timer to a request we send in the dialog.
func (l *Leg) timerHeaders(req *gosip.Request) {
	l.timer.mu.Lock()
	iv, we := l.timer.interval, l.timer.weRefresh
	l.timer.mu.Unlock()
	req.AppendHeader(gosip.NewHeader("Supported", "timer"))
	if iv > 0 {
		who := "uas"
		if we {
			who = "uac"
		}
		req.AppendHeader(gosip.NewHeader("Session-Expires", fmt.Sprintf("%s;refresher=%s", secs(iv), who)))
	}
}

// refreshedBy takes the session timer of a re-INVITE or UPDATE the peer sent and adds ours to
// the 2xx answering it; any such request refreshes the session (RFC 4028 7.4).
func (l *Leg) refreshedBy(req *gosip.Request, res *gosip.Response) {
	iv, refresher, ok := sessionExpires(req)
	l.timer.mu.Lock()
	cur, we := l.timer.interval, l.timer.weRefresh
	l.timer.mu.Unlock()
	peerTimer := hasOption(req, "Supported", "timer") || hasOption(req, "Require", "timer")
	if !ok {
		if cur > 0 {
			l.rearm()
		}
		return
	}
	// The requester is the UAC of this transaction: refresher=uac is the peer.
	we = refresher == "uas" || (refresher == "" && !peerTimer)
	who := "uac"
	if we {
		who = "uas"
	}
	res.AppendHeader(gosip.NewHeader("Session-Expires", fmt.Sprintf("%s;refresher=%s", secs(iv), who)))
	if peerTimer {
		res.AppendHeader(gosip.NewHeader("Require", "timer"))
	}
	l.arm(iv, we, peerTimer)
}

// negotiateTimer is the session timer of an INVITE (RFC 4028 9): its interval if at least our
// Min-SE (else tooSmall: 422), or ours when it supports timers and names none; the caller
// refreshes when it supports timers and did not ask us to.
func (u *UA) negotiateTimer(req *gosip.Request) (se time.Duration, weRefresh, peerTimer, tooSmall bool) {
	peerTimer = hasOption(req, "Supported", "timer") || hasOption(req, "Require", "timer")
	iv, refresher, ok := sessionExpires(req)
	if ok && iv < u.cfg.minSE() {
		return 0, false, peerTimer, true
	}
	if !ok {
		if !peerTimer || u.cfg.sessionExpires() == 0 {
			return 0, false, peerTimer, false
		}
		iv = max(u.cfg.sessionExpires(), minSEOf(req))
	}
	weRefresh = refresher == "uas" || !peerTimer
	return iv, weRefresh, peerTimer, false
}
