package media

// Dialing the destination leg and the SDP offer/answer with both legs.

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"callrec/media/recorder"
	"callrec/media/rtp"
	"callrec/media/sip"
)

// dial calls the destination and waits for its answer. plain relays 180/183 to the caller.
// On failure it returns the code to give an unanswered caller (0: the caller is gone).
func (c *call) dial(ctx context.Context, plain bool) (int, Outcome, bool) {
	callee, err := c.newLeg(recorder.Callee)
	if err != nil {
		c.e.log.Error("no RTP port for destination leg", "call", c.id, "err", err)
		return 503, OutcomeFailed, false
	}
	c.mu.Lock()
	callerCodec := c.legs[recorder.Caller].codec
	c.early = true
	c.mu.Unlock()
	other := rtp.PCMA
	if callerCodec == rtp.PCMA {
		other = rtp.PCMU
	}
	callee.dtmfPT, callee.hasDTMF = 101, true
	if trunk, err := netip.ParseAddrPort(c.e.cfg.Trunk); err == nil {
		callee.sock.SetSignalling(trunk.Addr()) // a trunk behind NAT answers from its public side
	}
	c.mu.Lock()
	offer := sip.BuildSDP(callee.description(c.e.ua.PublicIP(), []uint8{callerCodec, other}, sip.SendRecv))
	c.mu.Unlock()

	dctx, cancel := context.WithTimeout(ctx, c.e.cfg.RingTimeout)
	defer cancel()
	go func() {
		select {
		case <-c.in.Done():
			cancel()
		case <-dctx.Done():
		}
	}()
	out, err := c.e.ua.Dial(dctx, c.route.Destination, c.info.A, offer)
	if err != nil {
		c.e.log.Error("dial destination", "call", c.id, "err", err)
		return 503, OutcomeFailed, false
	}
	c.mu.Lock()
	c.out = out
	c.mu.Unlock()
	out.OnInfo(func(ct string, body []byte) { c.infoDigit(recorder.Callee, ct, body) })
	out.OnOffer(func(m sip.Media) ([]byte, error) { return c.reoffer(recorder.Callee, m) })
	type result struct {
		answer []byte
		code   int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		answer, code, err := out.Wait(dctx, func(code int, body []byte) {
			if len(body) > 0 {
				if m, err := sip.ParseSDP(body); err == nil {
					_ = c.setCalleeRemote(m)
				}
			}
			if plain {
				if len(body) > 0 {
					_ = c.in.Progress(183, c.callerSDP())
				} else if code == 180 {
					_ = c.in.Progress(180, nil)
				}
			}
		})
		done <- result{answer, code, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-dctx.Done():
		// sipgo's CANCEL waits up to 32 s for a 487 that some peers never send; the caller must
		// not wait for it. An answer racing the CANCEL is hung up when it comes.
		go func() {
			if r := <-done; r.err == nil {
				_ = out.Hangup(context.Background())
			}
			out.Close()
		}()
		return c.dialFailed(ctx, dctx, 0)
	}
	answer, code, err := r.answer, r.code, r.err
	if err != nil {
		return c.dialFailed(ctx, dctx, code)
	}
	m, err := sip.ParseSDP(answer)
	if err == nil {
		err = c.setCalleeRemote(m)
	}
	if err != nil {
		c.e.log.Info("destination answer unusable", "call", c.id, "err", err)
		_ = out.Hangup(context.Background())
		return 488, OutcomeFailed, false
	}
	now := time.Now()
	c.mu.Lock()
	c.early = false
	c.info.Answered = now
	c.mu.Unlock()
	return 200, "", true
}

func (c *call) dialFailed(ctx, dctx context.Context, code int) (int, Outcome, bool) {
	select {
	case <-c.in.Done():
		return 0, OutcomeUnanswered, false
	default:
	}
	switch {
	case ctx.Err() != nil:
		return 503, OutcomeInterrupted, false
	case errors.Is(dctx.Err(), context.DeadlineExceeded):
		return 480, OutcomeUnanswered, false
	case code == 486 || code == 600 || code == 603:
		return 486, OutcomeBusy, false
	case code == 408 || code == 480 || code == 487:
		return 480, OutcomeUnanswered, false
	case code >= 400 && code < 700:
		return code, OutcomeFailed, false
	}
	return 502, OutcomeFailed, false
}

func reasonFor(code int) string {
	switch code {
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 488:
		return "Not Acceptable Here"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	}
	return "Call Failed"
}

func (c *call) setCalleeRemote(m sip.Media) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.legs[recorder.Callee]
	codec, err := sip.Choose(m, c.legs[recorder.Caller].codec)
	if err != nil {
		return err
	}
	l.setRemote(m, codec)
	return nil
}

// callerSDP is our answer to the caller's offer.
func (c *call) callerSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.legs[recorder.Caller]
	return sip.BuildSDP(l.description(c.e.ua.PublicIP(), []uint8{l.codec}, c.callerDir))
}

// reoffer answers a re-INVITE (hold, codec change). Media keeps flowing into the same
// recorder, which follows the wall clock, so the timeline stays intact.
func (c *call) reoffer(ch recorder.Channel, m sip.Media) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.legs[ch]
	if l == nil || c.closed {
		return nil, errors.New("media: leg gone")
	}
	codec, err := sip.Choose(m, l.codec)
	if err != nil {
		return nil, err
	}
	l.setRemote(m, codec)
	l.version++
	return sip.BuildSDP(l.description(c.e.ua.PublicIP(), []uint8{codec}, sip.AnswerDir(m.Dir))), nil
}
