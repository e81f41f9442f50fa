package sip

import (
	"context"
	"errors"
	"fmt"
	"time"

	gosip "github.com/emiago/sipgo/sip"
)

// Offer and answer inside a dialog, both ways: the peer's re-INVITE or UPDATE (hold, resume, a
// new address or codec, a session refresh; without SDP it asks for our offer, whose answer comes
// in the ACK), and ours to the peer (a change on the other leg relayed, a refresh). One
// re-INVITE of ours at a time per leg; the peer's crossing it gets 491 (RFC 3261 14.2).

// ErrGlare: the peer asked for a change while ours was on its way.
var ErrGlare = errors.New("sip: re-INVITE crossed the peer's (491)")

// OnLateOffer sets how the leg makes an offer when the peer's request brought none (a
// re-INVITE without SDP, and our refreshes) and takes the answer to it.
func (l *Leg) OnLateOffer(offer func() []byte, answer func(Media) error) {
	l.mu.Lock()
	l.localOffer, l.onAnswer = offer, answer
	l.mu.Unlock()
}

func (l *Leg) offerNow() []byte {
	l.mu.Lock()
	f := l.localOffer
	l.mu.Unlock()
	if f == nil {
		return nil
	}
	return f()
}

// takeAnswer hands the peer's answer (the ACK of our late offer, or the 2xx of our re-INVITE)
// to the engine.
func (l *Leg) takeAnswer(body []byte) error {
	l.mu.Lock()
	f := l.onAnswer
	l.mu.Unlock()
	if f == nil {
		return errNoHandler
	}
	m, err := ParseSDP(body)
	if err != nil {
		return err
	}
	return f(m)
}

// takeAck is every ACK of the dialog: the one that completes a late offer carries the answer.
func (l *Leg) takeAck(req *gosip.Request) {
	l.mu.Lock()
	waiting := l.awaitAck
	l.awaitAck = false
	l.mu.Unlock()
	if !waiting {
		return
	}
	l.ackBody = append([]byte(nil), req.Body()...)
	if len(req.Body()) == 0 {
		return
	}
	if err := l.takeAnswer(req.Body()); err != nil {
		l.answerErr = err
	}
}

// Reoffer sends the peer a re-INVITE with sdp (our changed session) and takes its answer. It
// returns the peer's status code: 200 when the answer was taken.
func (l *Leg) Reoffer(ctx context.Context, sdp []byte) (int, error) {
	res, err := l.reinvite(ctx, sdp)
	if err != nil {
		return 0, err
	}
	if !res.IsSuccess() {
		return res.StatusCode, fmt.Errorf("sip: re-INVITE answered %d %s", res.StatusCode, res.Reason)
	}
	return 200, nil
}

// reinvite sends a re-INVITE (sdp nil: our current offer), ACKs its 2xx, hands the answer over
// and re-arms the session timer. A crossing re-INVITE of the peer is answered 491 meanwhile.
func (l *Leg) reinvite(ctx context.Context, sdp []byte) (*gosip.Response, error) {
	if l.request == nil {
		return nil, errors.New("sip: the leg has no dialog yet")
	}
	if !l.reinviting.TryLock() {
		return nil, ErrGlare
	}
	defer l.reinviting.Unlock()
	if sdp == nil {
		if sdp = l.offerNow(); sdp == nil {
			return nil, errNoHandler
		}
	}
	req := gosip.NewRequest(gosip.INVITE, l.target())
	req.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sdp)
	l.timerHeaders(req)
	ctx, cancel := context.WithTimeout(ctx, 32*time.Second)
	defer cancel()
	res, err := l.request(ctx, req)
	if err != nil {
		return nil, err
	}
	if !res.IsSuccess() {
		return res, nil
	}
	if l.ackTo != nil {
		l.ackTo(res)
	}
	if len(res.Body()) > 0 {
		if err := l.takeAnswer(res.Body()); err != nil {
			return res, err
		}
	}
	return res, nil
}

// answerReoffer answers a re-INVITE or UPDATE of the peer: our answer to its offer, or our
// offer when it brought none (re-INVITE only; the answer comes in the ACK). UPDATE without a
// body is a session refresh.
func (u *UA) answerReoffer(l *Leg, req *gosip.Request, tx gosip.ServerTransaction) {
	if !l.reinviting.TryLock() {
		u.respond(req, tx, 491, "Request Pending")
		return
	}
	defer l.reinviting.Unlock()
	body := req.Body()
	var sdp []byte
	switch {
	case len(body) > 0:
		answer, err := l.reoffer(body)
		if err != nil {
			code, reason := 488, "Not Acceptable Here"
			if errors.Is(err, errNoHandler) {
				code, reason = 491, "Request Pending"
			}
			u.respond(req, tx, code, reason)
			return
		}
		sdp = answer
	case req.Method == gosip.INVITE:
		if sdp = l.offerNow(); sdp == nil {
			u.respond(req, tx, 491, "Request Pending")
			return
		}
		l.mu.Lock()
		l.awaitAck = true
		l.mu.Unlock()
	}
	var res *gosip.Response
	if sdp != nil {
		res = gosip.NewSDPResponseFromRequest(req, sdp)
	} else {
		res = gosip.NewResponseFromRequest(req, 200, "OK", nil)
	}
	c := u.contact(req.Transport())
	res.AppendHeader(&c)
	l.refreshedBy(req, res)
	u.send(tx, res)
}

func (u *UA) onUpdate(req *gosip.Request, tx gosip.ServerTransaction) {
	l := u.leg(req)
	if l == nil {
		u.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	u.answerReoffer(l, req, tx)
}

// onPrack: the engine sends no reliable provisional responses, so a PRACK matches nothing
// (RFC 3262 4).
func (u *UA) onPrack(req *gosip.Request, tx gosip.ServerTransaction) {
	u.respond(req, tx, 481, "Call/Transaction Does Not Exist")
}
