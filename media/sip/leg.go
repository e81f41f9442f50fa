package sip

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"
)

var errNoHandler = errors.New("sip: leg takes no offers yet")

// Leg is what both sides of a call share: the dialog's lifetime and the in-dialog requests
// (INFO, re-INVITE) the engine wants to hear about.
type Leg struct {
	callID string
	ctx    context.Context

	mu      sync.Mutex
	onInfo  func(contentType string, body []byte)
	onOffer func(Media) ([]byte, error)

	bye     func(ctx context.Context) error
	readBye func(req *gosip.Request, tx gosip.ServerTransaction) error
	ack     func(req *gosip.Request, tx gosip.ServerTransaction)

	byRemote atomic.Bool
	byeAt    atomic.Int64 // when the peer's BYE or CANCEL came, as time since legEpoch

	dialog dialogState

	// In-dialog requests of ours (reoffer.go, timer.go): request sends one through the dialog
	// (answering a challenge), target is the peer's remote target, ackTo acknowledges the 2xx
	// of our re-INVITE. Set once the dialog exists.
	request    func(ctx context.Context, req *gosip.Request) (*gosip.Response, error)
	target     func() gosip.Uri
	ackTo      func(res *gosip.Response)
	peerUpdate bool // the peer's Allow names UPDATE: refreshes go as UPDATE
	reinviting sync.Mutex

	localOffer func() []byte
	onAnswer   func(Media) error
	awaitAck   bool   // our offer went in a 2xx: the ACK brings the answer
	ackBody    []byte // that ACK's body (the caller's answer to a late offer)
	answerErr  error

	// stream is the remote address of the TCP or TLS connection the dialog's requests come
	// over (empty over UDP): the connection stays open while the dialog lives (UA.keepConn).
	stream atomic.Value // string

	timer     sessionTimer
	onExpired func()
	expired   atomic.Bool
}

func newLeg(callID string) Leg { return Leg{callID: callID, ctx: context.Background()} }

// overStream notes the connection a message of the dialog came over, when it is TCP or TLS.
func (l *Leg) overStream(transport, source string) {
	if !strings.EqualFold(transport, "TCP") && !strings.EqualFold(transport, "TLS") {
		return
	}
	l.stream.Store(source)
}

func (l *Leg) streamAddr() string {
	s, _ := l.stream.Load().(string)
	return s
}

// CallID is this leg's SIP Call-ID.
func (l *Leg) CallID() string { return l.callID }

// Done is closed when the dialog ends: BYE from either side, or CANCEL before the answer.
func (l *Leg) Done() <-chan struct{} { return l.ctx.Done() }

// RemoteHangup tells whether the peer ended the dialog (BYE or CANCEL) rather than we.
func (l *Leg) RemoteHangup() bool { return l.byRemote.Load() }

// OnInfo sets what to do with an INFO request's body (DTMF relay).
func (l *Leg) OnInfo(f func(contentType string, body []byte)) {
	l.mu.Lock()
	l.onInfo = f
	l.mu.Unlock()
}

// OnOffer sets how to answer a re-INVITE's offer; f returns our answer SDP.
func (l *Leg) OnOffer(f func(Media) ([]byte, error)) {
	l.mu.Lock()
	l.onOffer = f
	l.mu.Unlock()
}

// Hangup sends BYE when the dialog is up; a no-op when it already ended.
func (l *Leg) Hangup(ctx context.Context) error {
	if l.bye == nil || l.ctx.Err() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, byeTimeout)
	defer cancel()
	return l.bye(ctx)
}

// legEpoch keeps byeAt on the monotonic clock.
var legEpoch = time.Now()

func (l *Leg) remoteBye() {
	l.byeAt.CompareAndSwap(0, int64(time.Since(legEpoch))+1)
	l.byRemote.Store(true)
}

// RemoteHangupAt is when the peer's BYE or CANCEL came (zero when it did not): the end of the
// conversation, which the engine may notice a moment later.
func (l *Leg) RemoteHangupAt() time.Time {
	if d := l.byeAt.Load(); d != 0 {
		return legEpoch.Add(time.Duration(d - 1))
	}
	return time.Time{}
}

func (l *Leg) info(ct string, body []byte) {
	l.mu.Lock()
	f := l.onInfo
	l.mu.Unlock()
	if f != nil {
		f(ct, body)
	}
}

func (l *Leg) reoffer(body []byte) ([]byte, error) {
	l.mu.Lock()
	f := l.onOffer
	l.mu.Unlock()
	if f == nil {
		return nil, errNoHandler
	}
	m, err := ParseSDP(body)
	if err != nil {
		return nil, err
	}
	return f(m)
}

// Inbound is the caller's leg: we are the UAS.
type Inbound struct {
	Leg
	ua  *UA
	dlg *sipgo.DialogServerSession
	req *gosip.Request

	mu       sync.Mutex
	final    bool
	answered bool

	// The session timer negotiated from the INVITE (onInvite): interval, whether we refresh,
	// whether the caller supports timers.
	se                   time.Duration
	weRefresh, peerTimer bool

	// confirmed ends the call's count against its source's unconfirmed calls: at the ACK,
	// or when the call is over.
	confirmed func()
}

// Dialed is the Request-URI user: the number the caller dialed (b), unescaped (RFC 3261
// 19.1.4: %34%39 is 49) and without a leading '+'. A user part that does not unescape is "".
func (in *Inbound) Dialed() string {
	return DialedNumber(in.req.Recipient.User)
}

// DialedNumber is Dialed for a Request-URI user part.
func DialedNumber(user string) string {
	u, err := url.PathUnescape(user)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u, "+")
}

// Caller is the caller's number (a): empty when withheld (Privacy: id, or neither From nor
// P-Asserted-Identity names a number); see identity.go.
func (in *Inbound) Caller() string { return callerOf(in.req) }

// CallerNumber normalises a From user part into a caller number; withheld gives "".
func CallerNumber(user string) string {
	user = strings.TrimPrefix(user, "+")
	if user == "" || len(user) > 32 {
		return ""
	}
	for _, r := range user {
		if r < '0' || r > '9' {
			// anonymous, restricted, unknown, a name: not a number we may put in a file name.
			return ""
		}
	}
	return user
}

// ErrAddressFamily: the offer's media address is of an IP version our media address is not
// (RFC 5118 4.6); no packet could reach it. IPv4-mapped IPv6 addresses count as IPv4.
var ErrAddressFamily = errors.New("sip: media address of another IP version than ours")

// Offer parses the INVITE's SDP. Late offers (no SDP) are not supported.
func (in *Inbound) Offer() (Media, error) {
	m, err := ParseSDP(in.req.Body())
	if err == nil && m.Addr.IsValid() && m.Addr.Addr().Is4() != in.ua.cfg.PublicIP.Unmap().Is4() {
		return m, ErrAddressFamily
	}
	return m, err
}

// Source is the host the INVITE came from (for a NATed caller, the NAT's public side); the
// zero Addr when it cannot be parsed.
func (in *Inbound) Source() netip.Addr {
	ap, err := netip.ParseAddrPort(in.req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Transport is UDP or TCP, as the INVITE came.
func (in *Inbound) Transport() string { return in.req.Transport() }

// Progress sends 180 Ringing or 183 Session Progress, with sdp for early media.
func (in *Inbound) Progress(code int, sdp []byte) error {
	reason := "Ringing"
	if code == 183 {
		reason = "Session Progress"
	}
	res := gosip.NewResponseFromRequest(in.dlg.InviteRequest, code, reason, sdp)
	if sdp != nil {
		res.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
	}
	c := in.ua.contact(in.Transport())
	res.AppendHeader(&c)
	in.ua.stamp(res)
	// Held across the write: a provisional from the destination leg's goroutine must not race
	// the final response (sipgo keeps the last response in the dialog unguarded).
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.final {
		return nil
	}
	return in.dlg.WriteResponse(res)
}

// Answer sends 200 OK with sdp. It returns when the ACK arrived (sipgo blocks until then).
func (in *Inbound) Answer(sdp []byte) error {
	in.mu.Lock()
	if in.final {
		in.mu.Unlock()
		return errors.New("sip: call already answered or rejected")
	}
	in.final = true
	in.answered = true
	in.mu.Unlock()
	res := gosip.NewSDPResponseFromRequest(in.dlg.InviteRequest, sdp)
	c := in.ua.contact(in.Transport())
	res.AppendHeader(&c)
	res.AppendHeader(gosip.NewHeader("Allow", allowHeader))
	res.AppendHeader(gosip.NewHeader("Supported", "timer"))
	if in.se > 0 {
		who := "uac"
		if in.weRefresh {
			who = "uas"
		}
		res.AppendHeader(gosip.NewHeader("Session-Expires", secs(in.se)+";refresher="+who))
		if in.peerTimer {
			res.AppendHeader(gosip.NewHeader("Require", "timer"))
		}
	}
	in.ua.stamp(res)
	late := len(in.req.Body()) == 0
	if late {
		in.Leg.mu.Lock()
		in.awaitAck = true
		in.Leg.mu.Unlock()
	}
	if err := in.dlg.WriteResponse(res); err != nil {
		return err
	}
	in.arm(in.se, in.weRefresh, in.peerTimer)
	return nil
}

// LateOffer tells whether the INVITE came without SDP: Answer then carries our offer and
// AckAnswer is the caller's answer.
func (in *Inbound) LateOffer() bool { return len(in.req.Body()) == 0 }

// AckAnswer is the SDP of the caller's ACK (its answer to the offer in our 200 OK), once
// Answer has returned; ErrNoAnswer when the ACK carried none.
func (in *Inbound) AckAnswer() (Media, error) {
	in.Leg.mu.Lock()
	body := in.ackBody
	in.Leg.mu.Unlock()
	if len(body) == 0 {
		return Media{}, ErrNoAnswer
	}
	return ParseSDP(body)
}

// ErrNoAnswer: an offer of ours got no answer (an ACK or a 2xx without SDP).
var ErrNoAnswer = errors.New("sip: the offer got no answer")

// Reject sends a final error response; a no-op after the answer.
func (in *Inbound) Reject(code int, reason string) error {
	in.mu.Lock()
	if in.final {
		in.mu.Unlock()
		return nil
	}
	in.final = true
	in.mu.Unlock()
	if in.ctx.Err() != nil {
		return nil // CANCELed: the transaction layer already answered 487
	}
	return in.respondFinal(code, reason)
}

func (in *Inbound) respondFinal(code int, reason string) error {
	res := gosip.NewResponseFromRequest(in.dlg.InviteRequest, code, reason, nil)
	in.ua.stamp(res)
	return in.dlg.WriteResponse(res)
}

// Answered tells whether 200 OK was sent.
func (in *Inbound) Answered() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.answered
}

func (in *Inbound) bye(ctx context.Context) error {
	if !in.Answered() {
		return in.Reject(480, "Temporarily Unavailable")
	}
	invite := in.dlg.InviteRequest
	bye := gosip.NewRequest(gosip.BYE, invite.Contact().Address)
	bye.SetTransport(invite.Transport())
	in.ua.stamp(bye)
	return in.dlg.WriteBye(ctx, bye)
}

func (in *Inbound) finish() {
	in.stopTimer()
	if !in.Answered() {
		_ = in.Reject(500, "Server Internal Error")
		return
	}
	_ = in.Hangup(context.Background())
	_ = in.dlg.Close()
}

// readBye ends the dialog on the caller's BYE. A BYE before our final response (a caller
// giving up while we still dial) would make sipgo terminate the INVITE transaction with no
// reply at all, leaving the caller retransmitting into the void: the INVITE gets its 487
// first (RFC 3261 15.1.2).
func (in *Inbound) readBye(req *gosip.Request, tx gosip.ServerTransaction) error {
	in.mu.Lock()
	pending := !in.final
	in.final = true
	in.mu.Unlock()
	if pending {
		_ = in.respondFinal(487, "Request Terminated")
	}
	return in.dlg.ReadBye(req, tx)
}

// ackHook confirms the dialog so Answer returns.
func (in *Inbound) ackHook(req *gosip.Request, tx gosip.ServerTransaction) {
	in.takeAck(req)
	_ = in.dlg.ReadAck(req, tx)
	if in.confirmed != nil {
		in.confirmed()
	}
}

// Outbound is the destination's leg: we are the UAC.
type Outbound struct {
	Leg
	ua  *UA
	dlg *sipgo.DialogClientSession

	answered atomic.Bool

	transport   string // UDP, TCP or TLS: how the trunk is reached
	late        bool   // the INVITE carried no SDP: the 2xx brings the offer, the ACK our answer
	rseq        uint32 // the last reliable provisional PRACKed
	earlyAnswer []byte // SDP of a reliable provisional: the answer when the 2xx has none
}

// Answered tells whether the destination answered (200 OK, ACKed).
func (o *Outbound) Answered() bool { return o.answered.Load() }

func (o *Outbound) bye(ctx context.Context) error {
	if !o.answered.Load() {
		return nil
	}
	defer o.ua.unregister(&o.Leg)
	// Built here rather than by the library so that it carries the configured User-Agent; the
	// dialog adds From, To, Call-ID, CSeq and the route set.
	bye := gosip.NewRequest(gosip.BYE, o.target())
	o.ua.stamp(bye)
	return o.dlg.WriteBye(ctx, bye)
}

// Close forgets the leg; call it when the call is over.
func (o *Outbound) Close() {
	o.stopTimer()
	o.ua.unregister(&o.Leg)
	if o.dlg != nil {
		_ = o.dlg.Close()
	}
}
