package sip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"
)

// Handler runs one inbound call, on the INVITE's own goroutine, until the call is over.
// ctx ends when the user agent shuts down.
type Handler interface {
	HandleCall(ctx context.Context, in *Inbound)
}

// UA is the engine's SIP user agent: a server for inbound calls and a client for the legs
// it dials, sharing one UDP socket so the trunk sees one address.
type UA struct {
	cfg     Config
	log     *slog.Logger
	handler Handler

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client
	dlg sipgo.DialogUA

	udp     *net.UDPConn
	tcp     *net.TCPListener
	tls     net.Listener // nil without Config.TLSAddr
	addr    netip.AddrPort
	tlsPort int

	reg registration

	handlers map[gosip.RequestMethod]sipgo.RequestHandler
	trust    trust
	admit    *admission

	mu      sync.Mutex
	legs    map[string]*Leg // by Call-ID: ours for outbound legs, the caller's for inbound
	ctx     context.Context
	closing bool
	wg      sync.WaitGroup

	// draining refuses new calls (503) and answers OPTIONS 503, so a dispatcher in front takes
	// the node out of rotation while its calls go on; inCalls counts the calls being handled.
	draining atomic.Bool
	inCalls  atomic.Int64
}

// Listen binds UDP and TCP on cfg.Addr (the same port for both) and prepares the user agent.
// Nothing is served before Serve.
func Listen(cfg Config, h Handler) (*UA, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	udp, tcp, err := listenPair(cfg.Addr)
	if err != nil {
		return nil, err
	}
	addr := udp.LocalAddr().(*net.UDPAddr).AddrPort()
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	nets, err := cfg.trustedNets(addr.Addr())
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, fmt.Errorf("%w (listening on %s)", err, addr)
	}
	if !cfg.PublicIP.IsValid() {
		cfg.PublicIP = addr.Addr()
		if cfg.PublicIP.IsUnspecified() {
			cfg.PublicIP = netip.MustParseAddr("127.0.0.1")
		}
	}
	u := &UA{cfg: cfg, log: log, handler: h, udp: udp, tcp: tcp, addr: addr, legs: map[string]*Leg{},
		trust: trust{nets: nets, trunk: trunkAddrs(cfg.Trunk)},
		admit: newAdmission(limit(cfg.InviteRate, DefaultInviteRate), limit(cfg.UnansweredPerSource, DefaultUnansweredPerSource))}
	// sipgo's transport and transaction layers log to slog.Default unless told otherwise; a
	// stream of garbage datagrams on the SIP port would then bypass the configured logger and
	// level (each one logged in full at ERROR on stderr). What peers can make sipgo log is also
	// cut short and rate-limited.
	sipLog := slog.New(newLimitHandler(log.Handler(), 20))
	if cfg.TLSAddr != "" {
		if u.tls, u.tlsPort, err = listenTLS(cfg.TLSAddr, cfg.TLS); err != nil {
			udp.Close()
			tcp.Close()
			return nil, err
		}
	}
	// The user agent's name only fills a missing From header, which our requests never lack;
	// it is neutral all the same.
	uaOpts := []sipgo.UserAgentOption{sipgo.WithUserAgent("-"), sipgo.WithUserAgentHostname(cfg.PublicIP.String()),
		sipgo.WithUserAgentTransportLayerOptions(gosip.WithTransportLayerLogger(sipLog),
			gosip.WithTransportLayerOwnResponses(func(r *gosip.Response) { u.stamp(r) }),
			gosip.WithTransportLayerTransports(gosip.TransportsConfig{TCP: u.tcpTransport(),
				TLS: &gosip.TransportTLS{TransportTCP: u.tcpTransport()}})),
		sipgo.WithUserAgentTransactionLayerOptions(gosip.WithTransactionLayerLogger(sipLog))}
	if cfg.TrunkTLS != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(cfg.TrunkTLS))
	}
	u.ua, err = sipgo.NewUA(uaOpts...)
	if err == nil {
		u.srv, err = sipgo.NewServer(u.ua, sipgo.WithServerLogger(sipLog))
	}
	if err == nil {
		u.cli, err = sipgo.NewClient(u.ua, sipgo.WithClientLogger(sipLog),
			sipgo.WithClientHostname(cfg.PublicIP.String()),
			sipgo.WithClientConnectionAddr(addr.String()))
	}
	if err != nil {
		udp.Close()
		tcp.Close()
		if u.tls != nil {
			u.tls.Close()
		}
		return nil, err
	}
	u.dlg = sipgo.DialogUA{Client: u.cli, ContactHDR: u.contact("UDP")}
	u.handlers = map[gosip.RequestMethod]sipgo.RequestHandler{
		gosip.INVITE:  u.onInvite,
		gosip.ACK:     u.onAck,
		gosip.BYE:     u.onBye,
		gosip.INFO:    u.onInfo,
		gosip.CANCEL:  u.onCancel,
		gosip.OPTIONS: u.onOptions,
		gosip.UPDATE:  u.onUpdate,
		gosip.PRACK:   u.onPrack,
	}
	for m, h := range u.handlers {
		u.srv.OnRequest(m, cfg.counted(u.serve(h)))
	}
	u.srv.OnNoRoute(cfg.counted(u.serve(nil)))
	return u, nil
}

// listenPair binds UDP and TCP to the same port. With port 0 the kernel picks the UDP port and
// TCP may find it taken, so it retries a few times.
func listenPair(addr string) (*net.UDPConn, *net.TCPListener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("sip: bad listen address %q: %w", addr, err)
	}
	var lastErr error
	for try := 0; try < 20; try++ {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		udp, err := net.ListenUDP("udp", ua)
		if err != nil {
			return nil, nil, fmt.Errorf("sip: listen udp %s: %w", addr, err)
		}
		// A burst of INVITEs must not overflow the default 208 kB before the reader gets to
		// it; the kernel caps the size at net.core.rmem_max.
		_ = udp.SetReadBuffer(4 << 20)
		bound := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(bound)))
		if err == nil {
			return udp, tcp.(*net.TCPListener), nil
		}
		udp.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, fmt.Errorf("sip: listen tcp: %w", lastErr)
}

// Addr is the bound address (UDP and TCP share the port).
func (u *UA) Addr() netip.AddrPort { return u.addr }

// PublicIP is the address for Contact and SDP.
func (u *UA) PublicIP() netip.Addr { return u.cfg.PublicIP }

// Serve answers SIP until ctx ends, then waits for the calls in flight (whose handlers see
// ctx end and hang up) and closes the sockets.
func (u *UA) Serve(ctx context.Context) error {
	u.mu.Lock()
	u.ctx = ctx
	u.mu.Unlock()
	errc := make(chan error, 2)
	go func() { errc <- u.srv.ServeUDP(u.udp) }()
	// Outbound legs leave through the UDP socket: a call arriving over TCP must not dial before
	// the transport layer knows that socket, or it tries to bind the port a second time.
	u.waitUDPServing()
	go func() { errc <- u.srv.ServeTCP(u.tcp) }()
	if u.tls != nil {
		go func() { errc <- u.srv.ServeTLS(u.tls) }()
	}
	if u.cfg.TrunkRegister {
		go u.keepRegistered(ctx)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	u.mu.Lock()
	u.closing = true
	u.mu.Unlock()
	// Calls hang up on ctx; a peer that never answers our BYE must not hold the shutdown.
	waited := make(chan struct{})
	go func() { u.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(shutdownWait):
		u.log.Warn("calls still ending at shutdown")
	}
	u.unregisterTrunk()
	u.udp.Close()
	u.tcp.Close()
	if u.tls != nil {
		u.tls.Close()
	}
	u.ua.Close()
	return err
}

// contact is our Contact: an address without a user part, which would only name the software.
func (u *UA) waitUDPServing() {
	pool := u.ua.TransportLayer().Pool("udp")
	addr := u.udp.LocalAddr().String()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if c := pool.Get(addr); c != nil {
			_, _ = c.TryClose()
			return
		}
	}
	u.log.Warn("sip: UDP socket not serving after 2 s")
}

func (u *UA) contact(transport string) gosip.ContactHeader {
	c := gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", Host: u.cfg.PublicIP.String(), Port: int(u.addr.Port())}}
	switch {
	case strings.EqualFold(transport, "TCP"):
		c.Address.UriParams = gosip.NewParams()
		c.Address.UriParams.Add("transport", "tcp")
	case strings.EqualFold(transport, "TLS") && u.tlsPort != 0:
		c.Address.Port = u.tlsPort
		c.Address.UriParams = gosip.NewParams()
		c.Address.UriParams.Add("transport", "tls")
	}
	return c
}

func (u *UA) register(l *Leg) {
	u.mu.Lock()
	u.legs[l.callID] = l
	u.mu.Unlock()
}

func (u *UA) unregister(l *Leg) {
	u.mu.Lock()
	if u.legs[l.callID] == l {
		delete(u.legs, l.callID)
	}
	u.mu.Unlock()
}

// SetDraining switches draining on or off: while on, new INVITEs and OPTIONS are answered 503
// and the calls in progress go on.
func (u *UA) SetDraining(on bool) { u.draining.Store(on) }

// Calls is how many inbound calls the user agent is handling (from the INVITE to the end of
// the call), including one that a drain is refusing just now.
func (u *UA) Calls() int { return int(u.inCalls.Load()) }

// Unconfirmed is how many calls from ip are not confirmed yet (no final answer and ACK), as
// counted against UnansweredPerSource; tests use it.
func (u *UA) Unconfirmed(ip netip.Addr) int { return u.admit.unconfirmed(ip) }

// Legs is how many dialogs the user agent routes requests to; tests use it to find leaks.
func (u *UA) Legs() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.legs)
}

func (u *UA) leg(req *gosip.Request) *Leg {
	id := req.CallID()
	if id == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.legs[string(*id)]
}

func (u *UA) onInvite(req *gosip.Request, tx gosip.ServerTransaction) {
	if tagOf(req.To()) != "" {
		u.onReinvite(req, tx)
		return
	}
	u.mu.Lock()
	ctx, closing := u.ctx, u.closing
	if !closing && ctx != nil {
		// Under mu: Serve sets closing before it waits, so no call is added after the Wait.
		u.wg.Add(1)
	}
	u.mu.Unlock()
	if closing || ctx == nil {
		u.respond(req, tx, 503, "Service Unavailable")
		return
	}
	defer u.wg.Done()
	u.inCalls.Add(1)
	defer u.inCalls.Add(-1)
	if u.draining.Load() {
		u.respond(req, tx, 503, "Service Unavailable")
		return
	}
	if u.leg(req) != nil {
		// A second INVITE with a Call-ID we serve, without a To tag: a loop or a fork.
		u.respond(req, tx, 482, "Loop Detected")
		return
	}
	src := sourceIP(req.Source())
	confirmed, why := u.admit.enter(src, time.Now())
	if why != "" {
		u.log.Info("INVITE refused: per-source limit", "source", src, "limit", why, "call_id", req.CallID())
		u.respond(req, tx, 503, "Service Unavailable")
		return
	}
	defer confirmed()
	se, weRefresh, peerTimer, tooSmall := u.negotiateTimer(req)
	if tooSmall {
		res := gosip.NewResponseFromRequest(req, 422, "Session Interval Too Small", nil)
		res.AppendHeader(gosip.NewHeader("Min-SE", secs(u.cfg.minSE())))
		u.send(tx, res)
		return
	}
	dlg, err := u.dlg.ReadInvite(req, tx)
	if err != nil {
		u.respond(req, tx, 400, "Bad Request")
		return
	}
	in := &Inbound{Leg: newLeg(string(*req.CallID())), ua: u, dlg: dlg, req: req, confirmed: confirmed}
	in.Leg.overStream(req.Transport(), req.Source())
	in.dialog.localTag = tagOf(dlg.InviteRequest.To())
	in.dialog.remoteTag = tagOf(req.From())
	in.dialog.remoteCSeq = req.CSeq().SeqNo
	in.dialog.inviteCSeq = req.CSeq().SeqNo
	in.dialog.addPeer(src)
	in.dialog.addRouteSet(req)
	for _, ip := range u.trust.trunk {
		in.dialog.addPeer(ip)
	}
	in.se, in.weRefresh, in.peerTimer = se, weRefresh, peerTimer
	in.peerUpdate = allows(req, "UPDATE")
	dlg.SetCredentials(sipgo.DigestAuth{Username: u.cfg.TrunkUser, Password: u.cfg.TrunkPassword})
	in.Leg.ctx = dlg.Context()
	in.Leg.bye = in.bye
	in.Leg.readBye = in.readBye
	in.Leg.ack = in.ackHook
	in.Leg.request = func(ctx context.Context, r *gosip.Request) (*gosip.Response, error) {
		c := u.contact(req.Transport())
		r.AppendHeader(&c)
		u.stamp(r)
		return dlg.Do(ctx, r)
	}
	in.Leg.target = func() gosip.Uri { return *dlg.InviteRequest.Contact().Address.Clone() }
	in.Leg.ackTo = func(res *gosip.Response) {
		ack := gosip.NewRequest(gosip.ACK, in.Leg.target())
		ack.AppendHeader(&gosip.CSeqHeader{SeqNo: res.CSeq().SeqNo, MethodName: gosip.ACK})
		u.stamp(ack)
		if err := dlg.WriteRequest(ack); err != nil {
			u.log.Info("ACK of re-INVITE not sent", "call_id", in.callID, "err", err)
		}
	}
	u.register(&in.Leg)
	defer u.unregister(&in.Leg)
	trying := gosip.NewResponseFromRequest(req, 100, "Trying", nil)
	u.stamp(trying)
	_ = dlg.WriteResponse(trying)
	u.handler.HandleCall(ctx, in)
	in.finish()
}

func (u *UA) onReinvite(req *gosip.Request, tx gosip.ServerTransaction) {
	l := u.leg(req)
	if l == nil {
		u.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	// The ACK comes outside this transaction (onAck); it carries the answer when the
	// re-INVITE asked for our offer.
	u.answerReoffer(l, req, tx)
}

func (u *UA) onAck(req *gosip.Request, tx gosip.ServerTransaction) {
	l := u.leg(req)
	if l == nil || l.dialog.accept(req) != inDialog {
		return
	}
	if l.ack != nil {
		l.ack(req, tx)
	} else {
		l.takeAck(req)
	}
}

// onBye handles BYE from either side: the callee's arrives on our client dialog, the caller's
// on our server dialog; sipgo keeps those in separate caches, so the leg table decides.
func (u *UA) onBye(req *gosip.Request, tx gosip.ServerTransaction) {
	l := u.leg(req)
	u.log.Debug("BYE", "call_id", req.CallID(), "known", l != nil, "from", req.Source())
	if l == nil || l.readBye == nil {
		u.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	// Mark first: readBye ends the dialog and the call's goroutine wakes up at once.
	l.remoteBye()
	if err := l.readBye(req, tx); err != nil {
		u.respond(req, tx, 481, "Call/Transaction Does Not Exist")
	}
}

func (u *UA) onInfo(req *gosip.Request, tx gosip.ServerTransaction) {
	l := u.leg(req)
	if l == nil {
		u.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	u.respond(req, tx, 200, "OK")
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	l.info(ct, req.Body())
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// byeTimeout bounds how long hanging up a leg may take; BYE gets a 200 in milliseconds
// normally and Timer F (32 s) is too long to hold a call's cleanup.
const byeTimeout = 5 * time.Second

// shutdownWait bounds how long Serve waits for calls to end after ctx.
const shutdownWait = 10 * time.Second

// counted is h reporting each request's final response to OnRequest (h itself when unset).
func (c Config) counted(h sipgo.RequestHandler) sipgo.RequestHandler {
	if c.OnRequest == nil {
		return h
	}
	return func(req *gosip.Request, tx gosip.ServerTransaction) {
		if req.Method == gosip.ACK {
			c.OnRequest(req.Method.String(), 0)
			h(req, tx)
			return
		}
		h(req, &countedTx{ServerTransaction: tx, method: req.Method.String(), count: c.OnRequest})
	}
}

// countedTx is a server transaction that reports its first final response.
type countedTx struct {
	gosip.ServerTransaction
	method string
	count  func(method string, code int)
	once   sync.Once
}

func (t *countedTx) Respond(res *gosip.Response) error {
	if res.StatusCode >= 200 {
		t.once.Do(func() { t.count(t.method, int(res.StatusCode)) })
	}
	return t.ServerTransaction.Respond(res)
}
