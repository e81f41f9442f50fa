package media

// Dialing the destination leg and the SDP offer/answer with both legs.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"callrec/media/recorder"
	"callrec/media/rtp"
	"callrec/media/sip"
)

// dial calls the destination and waits for its answer. plain relays 180/183 to the caller.
// On failure it returns the code to give an unanswered caller (0: the caller is gone). A caller
// that sent no SDP makes a late offer towards the destination too: the destination offers
// its codecs in the 2xx and gets our answer in the ACK.
func (c *call) dial(ctx context.Context, plain bool) (int, Outcome, bool) {
	callee, err := c.newLeg(recorder.Callee)
	if err != nil {
		c.e.log.Error("no RTP port for destination leg", "call", c.id, "err", err)
		return 503, OutcomeFailed, false
	}
	late := c.lateCaller
	c.mu.Lock()
	callerCodec := c.legs[recorder.Caller].codec
	c.early = true
	callee.dtmfPT, callee.hasDTMF = 101, true
	switch c.e.cfg.TrunkSRTP {
	case "offer", "require":
		k := sip.NewCrypto(1, "AES_CM_128_HMAC_SHA1_80")
		callee.local, callee.bestEffort, callee.wantSRTP = &k, c.e.cfg.TrunkSRTP == "offer", c.e.cfg.TrunkSRTP == "require"
	}
	callee.rtcpMux = true // offered; kept when the answer has it
	var offer []byte
	if !late {
		offer = sip.BuildSDP(callee.description(c.e.ua.PublicIP(), offerCodecs(callerCodec), sip.SendRecv))
	}
	c.mu.Unlock()
	if trunk, err := netip.ParseAddrPort(c.e.cfg.Trunk); err == nil {
		callee.sock.SetSignalling(trunk.Addr()) // a trunk behind NAT answers from its public side
	}

	dctx, cancel := context.WithTimeout(ctx, c.e.cfg.RingTimeout)
	defer cancel()
	go func() {
		select {
		case <-c.in.Done():
			cancel()
		case <-dctx.Done():
		}
	}()
	out, err := c.e.ua.Dial(dctx, c.route.Destination, sip.DialOptions{From: c.info.A, Offer: offer,
		Withheld: c.in.Withheld(), Asserted: c.in.Asserted()})
	if err != nil {
		c.e.log.Error("dial destination", "call", c.id, "err", err)
		c.event(EventSignallingError, "system", "the destination could not be called: "+err.Error())
		return 503, OutcomeFailed, false
	}
	c.mu.Lock()
	c.out = out
	c.mu.Unlock()
	out.OnInfo(func(ct string, body []byte) { c.infoDigit(recorder.Callee, ct, body) })
	c.watchSession(recorder.Callee, &out.Leg)
	type result struct {
		answer []byte
		code   int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		answer, code, err := out.Wait(dctx, func(code int, body []byte) {
			if len(body) > 0 && !late {
				if m, err := sip.ParseSDP(body); err == nil {
					_ = c.setCalleeRemote(m)
				}
			}
			if plain {
				if len(body) > 0 && !late {
					_ = c.in.Progress(183, c.callerSDP())
				} else if code == 180 || code == 183 {
					_ = c.in.Progress(180, nil)
				}
			}
		}, func(body []byte) ([]byte, error) { return c.answerCallee(body) })
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
		return c.dialFailed(ctx, dctx, 0, nil)
	}
	answer, code, err := r.answer, r.code, r.err
	if err != nil && !out.Answered() {
		return c.dialFailed(ctx, dctx, code, err)
	}
	if err == nil && !late {
		var m sip.Media
		if m, err = sip.ParseSDP(answer); err == nil {
			err = c.setCalleeRemote(m)
		}
	}
	if err != nil {
		c.e.log.Info("destination answer unusable", "call", c.id, "err", err)
		c.event(EventSignallingError, "callee", "the destination's answer is unusable: "+err.Error())
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

// answerCallee answers the destination's offer (in its 2xx to our SDP-less INVITE).
func (c *call) answerCallee(body []byte) ([]byte, error) {
	m, err := sip.ParseSDP(body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.legs[recorder.Callee]
	codec, err := sip.Choose(m, rtp.PCMU)
	if err == nil {
		err = l.setRemote(m, codec, true)
	}
	if err != nil {
		return nil, err
	}
	l.negotiated = true
	// A caller still to be answered is offered the destination's codec first: no transcoding
	// when it takes it.
	if caller := c.legs[recorder.Caller]; !caller.negotiated {
		caller.codec = codec
	}
	return sip.BuildSDP(l.description(c.e.ua.PublicIP(), []uint8{codec}, sip.AnswerDir(m.Dir))), nil
}

func (c *call) dialFailed(ctx, dctx context.Context, code int, err error) (int, Outcome, bool) {
	select {
	case <-c.in.Done():
		return 0, OutcomeUnanswered, false
	default:
	}
	if why := dialFailure(code, err); why != "" {
		c.event(EventSignallingError, "callee", why)
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
	case code == 401 || code == 407:
		// The trunk's challenge is ours to answer, not the caller's: relayed, it would be a
		// 401/407 without a challenge the caller could answer (RFC 3261 21.4.2, 21.4.8).
		return 403, OutcomeFailed, false
	case code == 422:
		// Our interval, not the caller's (RFC 4028 6): a 422 needs a Min-SE the caller cannot act on.
		return 502, OutcomeFailed, false
	case code >= 400 && code < 700:
		return code, OutcomeFailed, false
	}
	return 502, OutcomeFailed, false
}

// dialFailure says why a destination leg failed, for the trail ("" for the ordinary: busy,
// no answer, declined).
func dialFailure(code int, err error) string {
	switch {
	case code == 401 || code == 407:
		return fmt.Sprintf("the trunk refused our credentials (%d after the challenge was answered, or a challenge we cannot answer)", code)
	case code == 422:
		return "the destination's session interval could not be met (422)"
	case code == 0 && err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		return "the destination sent no valid final answer: " + err.Error()
	case code >= 400 && code != 486 && code != 600 && code != 603 && code != 408 && code != 480 && code != 487:
		return fmt.Sprintf("the destination answered %d", code)
	}
	return ""
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
	if err := l.setRemote(m, codec, false); err != nil {
		return err
	}
	l.negotiated = true
	return nil
}

// callerSDP is our answer to the caller's offer.
func (c *call) callerSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.legs[recorder.Caller]
	codecs := []uint8{l.codec}
	if !l.negotiated {
		codecs = offerCodecs(l.codec) // a late offer: ours, the answer comes in the ACK
		l.rtcpMux = true
	}
	return sip.BuildSDP(l.description(c.e.ua.PublicIP(), codecs, c.callerDir))
}
