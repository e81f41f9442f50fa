package media

// The session after the INVITE: the peer's re-INVITE or UPDATE on either leg (hold, resume, a
// new address or codec, a refresh), the change relayed to the other leg, late offers, SRTP keys,
// session timers running out, and RTCP reports. The recorder follows the wall clock, so a hold
// is silence in the held direction and the timeline never shifts.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"callrec/media/recorder"
	"callrec/media/rtp"
	"callrec/media/sip"
)

// errDowngrade: a leg that speaks SRTP was offered plain RTP.
var errDowngrade = errors.New("media: SRTP leg offered plain RTP")

// Direction bits: what the peer does (sendrecv is both).
const (
	dirSend = 1 << iota
	dirRecv
)

func dirBits(d string) int {
	switch d {
	case sip.SendOnly:
		return dirSend
	case sip.RecvOnly:
		return dirRecv
	case sip.Inactive:
		return 0
	}
	return dirSend | dirRecv
}

func dirName(bits int) string {
	switch bits {
	case dirSend:
		return sip.SendOnly
	case dirRecv:
		return sip.RecvOnly
	case 0:
		return sip.Inactive
	}
	return sip.SendRecv
}

func sends(peerDir string) bool    { return dirBits(peerDir)&dirSend != 0 }
func receives(peerDir string) bool { return dirBits(peerDir)&dirRecv != 0 }

// answerDir is our direction towards a leg that offered dir, while the other leg's peer does
// otherDir: we only send what the other side sends, and only take what it takes.
func answerDir(dir, otherDir string) string {
	mirror := dirBits(sip.AnswerDir(dir))
	o := dirBits(otherDir)
	// We send to this leg when the other peer sends (its audio), and receive when it receives.
	limit := 0
	if o&dirSend != 0 {
		limit |= dirSend
	}
	if o&dirRecv != 0 {
		limit |= dirRecv
	}
	return dirName(mirror & limit)
}

// secure takes the peer's SDES key: an offer that requires SRTP and has no usable key is
// refused (never answered in the clear); a leg that had SRTP keeps it.
func (l *leg) secure(m sip.Media, answering bool) error {
	c, ok := m.BestCrypto()
	if !ok {
		switch {
		case m.Secure:
			return sip.ErrNoCrypto
		case l.wantSRTP || l.sock.Secure():
			return errDowngrade
		}
		l.local = nil // a best-effort offer of ours answered in plain RTP
		return nil
	}
	if answering {
		if l.local == nil || l.local.Suite != c.Suite {
			k := sip.NewCrypto(c.Tag, c.Suite)
			l.local = &k
		}
		l.local.Tag = c.Tag
		l.bestEffort = !m.Secure
	} else if l.local == nil || c.Suite != l.local.Suite {
		return fmt.Errorf("media: answer's crypto suite %s was not offered", c.Suite)
	}
	return l.sock.SetSRTP(c.Suite, l.local.Key, c.Key)
}

// who names a leg in the trail.
func who(ch recorder.Channel) string {
	if ch == recorder.Caller {
		return "caller"
	}
	return "callee"
}

// sipLeg is the signalling side of leg ch (nil before it exists).
func (c *call) sipLeg(ch recorder.Channel) *sip.Leg {
	if ch == recorder.Caller {
		return &c.in.Leg
	}
	if c.out == nil {
		return nil
	}
	return &c.out.Leg
}

// reoffer answers a re-INVITE or UPDATE with SDP on leg ch. Media keeps flowing into the same
// recorder, which follows the wall clock. A change of direction (hold, resume) goes into the
// trail and to the other leg.
func (c *call) reoffer(ch recorder.Channel, m sip.Media) ([]byte, error) {
	c.mu.Lock()
	l := c.legs[ch]
	if l == nil || c.closed {
		c.mu.Unlock()
		return nil, errors.New("media: leg gone")
	}
	codec, err := sip.Choose(m, l.codec)
	if err == nil {
		err = l.setRemote(m, codec, true)
	}
	if err != nil {
		c.mu.Unlock()
		c.e.log.Info("re-INVITE refused", "call", c.id, "leg", who(ch), "err", err)
		return nil, err
	}
	otherDir := sip.SendRecv
	if o := c.legs[1-ch]; o != nil && c.bridged {
		otherDir = o.peerDir
	}
	l.version++
	answer := sip.BuildSDP(l.description(c.e.ua.PublicIP(), []uint8{codec}, answerDir(m.Dir, otherDir)))
	held := dirBits(m.Dir) != dirSend|dirRecv
	changed := held != c.held[ch]
	if changed {
		c.held[ch] = held
		kind := EventResumed
		if held {
			kind = EventHeld
		}
		c.appendEventLocked(time.Now(), kind, who(ch), m.Dir)
	}
	relay := changed && c.bridged
	c.mu.Unlock()
	if changed {
		c.changed()
	}
	if relay {
		go c.relayDirection(1-ch, m.Dir)
	}
	return answer, nil
}

// relayDirection tells leg to the direction the other leg's peer now has, with a re-INVITE:
// its phone shows the hold, and it stops sending audio nobody hears.
func (c *call) relayDirection(to recorder.Channel, dir string) {
	c.mu.Lock()
	l := c.legs[to]
	sl := c.sipLeg(to)
	if l == nil || sl == nil || c.closed {
		c.mu.Unlock()
		return
	}
	l.ourDir = dir
	l.version++
	sdp := sip.BuildSDP(l.description(c.e.ua.PublicIP(), []uint8{l.codec}, dir))
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	code, err := sl.Reoffer(ctx, sdp)
	if err != nil && !errors.Is(err, context.Canceled) {
		c.e.log.Info("hold not relayed", "call", c.id, "to", who(to), "code", code, "err", err)
		c.event(EventSignallingError, "system", fmt.Sprintf("%s did not take the %s re-INVITE: %v", who(to), dir, err))
	}
}

// lateOffer is our offer on leg ch when the peer's request brought none (and our refreshes).
func (c *call) lateOffer(ch recorder.Channel) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.legs[ch]
	if l == nil || c.closed {
		return nil
	}
	codecs := []uint8{l.codec}
	if !l.negotiated {
		codecs = offerCodecs(l.codec)
		l.rtcpMux = true // offered; kept only when the answer has it too
	}
	dir := l.ourDir
	if dir == "" {
		dir = sip.SendRecv
	}
	return sip.BuildSDP(l.description(c.e.ua.PublicIP(), codecs, dir))
}

// offerCodecs is G.711 with first as the preferred.
func offerCodecs(first uint8) []uint8 {
	if first == rtp.PCMA {
		return []uint8{rtp.PCMA, rtp.PCMU}
	}
	return []uint8{rtp.PCMU, rtp.PCMA}
}

// takeAnswer is the peer's answer to an offer of ours on leg ch.
func (c *call) takeAnswer(ch recorder.Channel, m sip.Media) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.legs[ch]
	if l == nil || c.closed {
		return errors.New("media: leg gone")
	}
	prefer := l.codec
	if o := c.legs[1-ch]; o != nil && o.negotiated {
		prefer = o.codec
	}
	codec, err := sip.Choose(m, prefer)
	if err == nil {
		err = l.setRemote(m, codec, false)
	}
	if err != nil {
		return err
	}
	l.negotiated = true
	return nil
}

// watchSession wires leg ch's in-dialog offers, late offers and session timer into the call.
func (c *call) watchSession(ch recorder.Channel, sl *sip.Leg) {
	sl.OnOffer(func(m sip.Media) ([]byte, error) { return c.reoffer(ch, m) })
	sl.OnLateOffer(func() []byte { return c.lateOffer(ch) }, func(m sip.Media) error { return c.takeAnswer(ch, m) })
	sl.OnSessionExpired(func() {
		iv, _ := sl.SessionInterval()
		c.e.log.Info("session timer expired; ending the call", "call", c.id, "leg", who(ch), "interval", iv)
		c.event(EventSessionExpired, who(ch), fmt.Sprintf("no refresh within the %s session interval", iv))
		go func() { _ = sl.Hangup(context.Background()) }()
	})
}

// rtcpTick sends each leg's RTCP report when due; the caller holds mu.
func (c *call) rtcpTickLocked(now time.Time) {
	for _, l := range c.legs {
		if l == nil || now.Before(l.nextRTCP) {
			continue
		}
		if l.nextRTCP.IsZero() {
			l.nextRTCP = now.Add(rtp.RTCPInterval / 2) // the first report soon after the start
			continue
		}
		l.nextRTCP = now.Add(rtp.RTCPInterval)
		var recv *rtp.RecvStats
		if l.rx > 0 {
			recv = &l.stats
		}
		n := l.sock.BuildReport(l.pkt[:], rtp.Sent{SSRC: l.out.SSRC, Packets: uint32(l.tx), Octets: l.octets,
			LastRTPTimestamp: l.out.Timestamp()}, recv, l.cname, now)
		l.sock.WriteRTCP(l.pkt[:n])
	}
}
