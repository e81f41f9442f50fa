package media

import (
	"net/netip"
	"time"

	"callrec/media/audio"
	"callrec/media/dtmf"
	"callrec/media/recorder"
	"callrec/media/rtp"
	"callrec/media/sip"
)

// source is what a leg hears.
type source uint8

const (
	srcNone  source = iota // nothing is sent
	srcGen                 // a prompt or tone the engine generates
	srcRelay               // the other leg's audio
)

// maxBurst bounds how many generated frames a late clock tick sends at once; beyond that the
// backlog is skipped rather than blasted at the phone.
const maxBurst = 5

// eventGap is how long a telephone-event stream may pause before a packet with an older
// timestamp counts as a new key press rather than a straggler; packets of one press come
// every 50 ms or faster.
const eventGap = 500 * time.Millisecond

// endGap is the same after an end packet, whose three copies come back to back.
const endGap = 60 * time.Millisecond

// staleRelay is how long after its arrival a packet is still relayed. One the engine reads
// later than that (the process was stopped or starved, and the readers work through a
// backlog) is recorded but not sent on: a phone's jitter buffer has long given its place up,
// so it would only be played late or thrown away, and the catching up costs the readers one
// syscall per packet less, so they are back at the present sooner.
const staleRelay = 500 * time.Millisecond

// frameSamples is one generated 20 ms frame at 8 kHz.
const frameSamples = 160

// generator plays samples (once or looped), paced by the frames due since start.
type generator struct {
	samples []int16
	loop    bool
	start   time.Time
	sent    int
}

// leg is one side's media: its socket, codec, DTMF detectors and the stream we send it.
// All fields are guarded by the call's mutex; the buffers make a packet cost no allocation.
type leg struct {
	c  *call
	ch recorder.Channel

	sock    *rtp.Socket
	codec   uint8
	dtmfPT  uint8
	hasDTMF bool
	session uint64
	version uint64

	rfc       dtmf.RFC4733
	dtmfSSRC  uint32
	dtmfAt    time.Time
	dtmfEnded bool
	inband    *dtmf.Inband
	out       rtp.Stream
	src       source
	gen       generator

	rx, tx  uint64
	relayed uint64 // of tx: the other leg's audio
	stale   uint64 // the other leg's audio not relayed: read more than staleRelay after it came
	octets  uint32 // payload bytes sent, for RTCP

	// Negotiated in SDP (media/session.go): the peer's direction (it sends and receives as
	// it says: a held peer's audio is dropped, so the recording is silent in that direction),
	// our SDES key, RTCP mux.
	peerDir    string
	ourDir     string // what we offer this leg: the other peer's direction while it holds
	negotiated bool   // an offer/answer completed: codec is the peer's
	local      *sip.Crypto
	bestEffort bool
	wantSRTP   bool // we offered RTP/SAVP: an answer without a key ends the leg
	rtcpMux    bool
	stats      rtp.RecvStats
	nextRTCP   time.Time
	cname      string

	pcm [rtp.MaxPacket]int16
	enc [rtp.MaxPacket]byte
	pkt [rtp.MaxPacket + rtp.HeaderSize]byte
}

// setRemote takes the peer's SDP: where to send, codec, telephone-event type, direction,
// SRTP keys and RTCP (answering: m is the peer's offer, else its answer to ours).
func (l *leg) setRemote(m sip.Media, codec uint8, answering bool) error {
	if err := l.secure(m, answering); err != nil {
		return err
	}
	l.peerDir = m.Dir
	if answering {
		l.rtcpMux = m.RTCPMux
	} else {
		l.rtcpMux = l.rtcpMux && m.RTCPMux
	}
	l.sock.SetRTCP(l.rtcpMux, m.RTCPPort)
	l.codec = codec
	l.dtmfPT, l.hasDTMF = m.DTMF, m.HasDTMF
	if l.hasDTMF {
		l.sock.SetEventType(int(l.dtmfPT))
	} else {
		l.sock.SetEventType(-1)
	}
	if m.Addr.IsValid() {
		l.sock.SetPeer(m.Addr)
	}
	return nil
}

// description is our SDP for this leg; its version goes up only with a new answer (reoffer).
func (l *leg) description(ip netip.Addr, codecs []uint8, dir string) sip.Description {
	d := sip.Description{IP: ip, Port: l.sock.Port(), Session: l.session, Version: l.version, Codecs: codecs, Ptime: 20, Dir: dir,
		Crypto: l.local, BestEffort: l.bestEffort, RTCPMux: l.rtcpMux}
	if l.hasDTMF {
		d.DTMF = l.dtmfPT
	}
	return d
}

// HandleRTP runs on the leg's socket reader for every packet: DTMF, decode, record, relay.
func (l *leg) HandleRTP(h *rtp.Header, payload []byte, from netip.AddrPort, now time.Time) {
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if l.hasDTMF && h.PayloadType == l.dtmfPT {
		// The detector keys events on their timestamp. A new SSRC restarts the timestamps, and
		// so do senders replaying recorded digits (sip-tester's pcaps all share one SSRC and
		// '1' has an older timestamp than '#'): after an ended event and a pause, the next
		// packet is a new key press.
		gap := now.Sub(l.dtmfAt)
		if h.SSRC != l.dtmfSSRC || gap > eventGap || (l.dtmfEnded && gap > endGap) {
			l.rfc.Reset()
			l.dtmfSSRC = h.SSRC
		}
		l.dtmfAt = now
		l.dtmfEnded = len(payload) >= 2 && payload[1]&0x80 != 0
		if d, ok := l.rfc.Feed(payload, h.Timestamp); ok {
			c.digitLocked(l.ch, d, now)
		}
		return
	}
	if len(payload) == 0 || len(payload) > len(l.pcm) || !sends(l.peerDir) {
		return
	}
	l.rx++
	l.stats.Update(h, now, 8000)
	pcm := l.pcm[:len(payload)]
	switch h.PayloadType {
	case rtp.PCMU:
		audio.ULawDecode(pcm, payload)
	case rtp.PCMA:
		audio.ALawDecode(pcm, payload)
	default:
		return
	}
	if c.listen[l.ch] && !l.hasDTMF {
		if l.inband == nil {
			l.inband = dtmf.NewInband(8000)
		}
		if d, ok := l.inband.Feed(pcm); ok {
			c.digitLocked(l.ch, d, now)
		}
	}
	if c.rec != nil && c.bridged {
		c.rec.Put(l.ch, h.SSRC, h.Timestamp, pcm, now)
	}
	o := c.legs[1-l.ch]
	if o == nil {
		return
	}
	if c.early && l.ch == recorder.Callee && o.src != srcRelay {
		// Early media replaces our ringback as soon as the destination really sends some.
		o.src = srcRelay
	}
	if o.src == srcRelay && (c.bridged || l.ch == recorder.Callee) {
		if time.Since(now) > staleRelay {
			o.stale++
			return
		}
		o.relay(h, payload, pcm)
	}
}

// relay sends one packet of the other leg's audio to l, transcoding when the codecs differ.
func (l *leg) relay(h *rtp.Header, payload []byte, pcm []int16) {
	body := payload
	if h.PayloadType != l.codec {
		body = l.enc[:len(payload)]
		switch {
		case h.PayloadType == rtp.PCMU && l.codec == rtp.PCMA:
			audio.ULawToALaw(body, payload)
		case h.PayloadType == rtp.PCMA && l.codec == rtp.PCMU:
			audio.ALawToULaw(body, payload)
		default:
			return
		}
	}
	if !receives(l.peerDir) {
		return // on hold towards this leg: it takes nothing
	}
	var oh rtp.Header
	l.out.Relayed(&oh, l.codec, h.SSRC, h.Timestamp, len(pcm))
	n := oh.Put(l.pkt[:])
	n += copy(l.pkt[n:], body)
	l.sock.Write(l.pkt[:n])
	l.tx++
	l.relayed++
	l.octets += uint32(len(body))
}

// play starts generating samples to this leg from now.
func (l *leg) play(samples []int16, loop bool, now time.Time) {
	l.gen = generator{samples: samples, loop: loop, start: now}
	l.src = srcGen
}

// pace sends the generated frames due by now.
func (l *leg) pace(now time.Time) {
	g := &l.gen
	due := int(now.Sub(g.start)/rtp.Frame) + 1
	if due-g.sent > maxBurst {
		g.sent = due - maxBurst
	}
	for ; g.sent < due; g.sent++ {
		frame := l.pcm[:frameSamples]
		if !g.fill(frame) {
			l.src = srcNone
			return
		}
		body := l.enc[:frameSamples]
		if l.codec == rtp.PCMA {
			audio.ALawEncode(body, frame)
		} else {
			audio.ULawEncode(body, frame)
		}
		var h rtp.Header
		l.out.Generated(&h, l.codec, frameSamples)
		if !receives(l.peerDir) {
			continue // paced on, so the prompt is not late when the leg comes back
		}
		n := h.Put(l.pkt[:])
		n += copy(l.pkt[n:], body)
		l.sock.Write(l.pkt[:n])
		l.tx++
		l.octets += uint32(len(body))
	}
}

// fill writes frame number g.sent into dst; false when a one-shot prompt is over.
func (g *generator) fill(dst []int16) bool {
	n := len(g.samples)
	pos := g.sent * len(dst)
	if n == 0 {
		return false
	}
	if g.loop {
		for i := range dst {
			dst[i] = g.samples[(pos+i)%n]
		}
		return true
	}
	if pos >= n {
		return false
	}
	k := copy(dst, g.samples[pos:])
	clear(dst[k:])
	return true
}
