package sip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"
)

// Config is the signalling part of the engine's configuration.
type Config struct {
	Addr     string     // host:port to listen on, UDP and TCP; port 0 picks a free one
	PublicIP netip.Addr // put into Contact and SDP; default: the listen host
	Trunk    string     // host:port where outbound legs go
	Logger   *slog.Logger
}

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

	udp  *net.UDPConn
	tcp  *net.TCPListener
	addr netip.AddrPort

	mu      sync.Mutex
	legs    map[string]*Leg // by Call-ID: ours for outbound legs, the caller's for inbound
	ctx     context.Context
	closing bool
	wg      sync.WaitGroup
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
	if !cfg.PublicIP.IsValid() {
		cfg.PublicIP = addr.Addr()
		if cfg.PublicIP.IsUnspecified() {
			cfg.PublicIP = netip.MustParseAddr("127.0.0.1")
		}
	}
	u := &UA{cfg: cfg, log: log, handler: h, udp: udp, tcp: tcp, addr: addr, legs: map[string]*Leg{}}
	// sipgo's transport and transaction layers log to slog.Default unless told otherwise; a
	// stream of garbage datagrams on the SIP port would then bypass the configured logger and
	// level (each one logged in full at ERROR on stderr). What peers can make sipgo log is also
	// cut short and rate-limited.
	sipLog := slog.New(newLimitHandler(log.Handler(), 20))
	u.ua, err = sipgo.NewUA(sipgo.WithUserAgent("callrec"), sipgo.WithUserAgentHostname(cfg.PublicIP.String()),
		sipgo.WithUserAgentTransportLayerOptions(gosip.WithTransportLayerLogger(sipLog)),
		sipgo.WithUserAgentTransactionLayerOptions(gosip.WithTransactionLayerLogger(sipLog)))
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
		return nil, err
	}
	u.dlg = sipgo.DialogUA{Client: u.cli, ContactHDR: u.contact("UDP")}
	u.srv.OnNoRoute(func(req *gosip.Request, tx gosip.ServerTransaction) {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil))
	})
	u.srv.OnInvite(u.onInvite)
	u.srv.OnAck(u.onAck)
	u.srv.OnBye(u.onBye)
	u.srv.OnInfo(u.onInfo)
	u.srv.OnCancel(func(req *gosip.Request, tx gosip.ServerTransaction) {
		// CANCELs matching a pending INVITE never get here (the transaction layer answers them).
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	})
	u.srv.OnOptions(func(req *gosip.Request, tx gosip.ServerTransaction) {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 200, "OK", nil))
	})
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
	go func() { errc <- u.srv.ServeTCP(u.tcp) }()
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
	u.udp.Close()
	u.tcp.Close()
	u.ua.Close()
	return err
}

func (u *UA) contact(transport string) gosip.ContactHeader {
	c := gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: "callrec", Host: u.cfg.PublicIP.String(), Port: int(u.addr.Port())}}
	if strings.EqualFold(transport, "TCP") {
		c.Address.UriParams = gosip.NewParams()
		c.Address.UriParams.Add("transport", "tcp")
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
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			u.onReinvite(req, tx)
			return
		}
	}
	u.mu.Lock()
	ctx, closing := u.ctx, u.closing
	if !closing && ctx != nil {
		// Under mu: Serve sets closing before it waits, so no call is added after the Wait.
		u.wg.Add(1)
	}
	u.mu.Unlock()
	if closing || ctx == nil {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
		return
	}
	defer u.wg.Done()
	if u.leg(req) != nil {
		// A second INVITE with a Call-ID we serve, without a To tag: a loop or a fork.
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 482, "Loop Detected", nil))
		return
	}
	dlg, err := u.dlg.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	in := &Inbound{Leg: newLeg(string(*req.CallID())), ua: u, dlg: dlg, req: req}
	in.Leg.ctx = dlg.Context()
	in.Leg.bye = in.bye
	in.Leg.readBye = in.readBye
	in.Leg.ack = in.ackHook
	u.register(&in.Leg)
	defer u.unregister(&in.Leg)
	_ = dlg.Respond(100, "Trying", nil)
	u.handler.HandleCall(ctx, in)
	in.finish()
}

func (u *UA) onReinvite(req *gosip.Request, tx gosip.ServerTransaction) {
	l := u.leg(req)
	if l == nil {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	answer, err := l.reoffer(req.Body())
	if err != nil {
		code, reason := 488, "Not Acceptable Here"
		if errors.Is(err, errNoHandler) {
			code, reason = 491, "Request Pending"
		}
		_ = tx.Respond(gosip.NewResponseFromRequest(req, code, reason, nil))
		return
	}
	res := gosip.NewSDPResponseFromRequest(req, answer)
	c := u.contact(req.Transport())
	res.AppendHeader(&c)
	_ = tx.Respond(res)
	// The ACK comes outside this transaction (onAck) and changes nothing.
}

func (u *UA) onAck(req *gosip.Request, tx gosip.ServerTransaction) {
	if l := u.leg(req); l != nil && l.ack != nil {
		l.ack(req, tx)
	}
}

// onBye handles BYE from either side: the callee's arrives on our client dialog, the caller's
// on our server dialog; sipgo keeps those in separate caches, so the leg table decides.
func (u *UA) onBye(req *gosip.Request, tx gosip.ServerTransaction) {
	l := u.leg(req)
	u.log.Debug("BYE", "call_id", req.CallID(), "known", l != nil, "from", req.Source())
	if l == nil || l.readBye == nil {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	// Mark first: readBye ends the dialog and the call's goroutine wakes up at once.
	l.remoteBye()
	if err := l.readBye(req, tx); err != nil {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	}
}

func (u *UA) onInfo(req *gosip.Request, tx gosip.ServerTransaction) {
	l := u.leg(req)
	if l == nil {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	_ = tx.Respond(gosip.NewResponseFromRequest(req, 200, "OK", nil))
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	l.info(ct, req.Body())
}

// Dial starts the outbound leg: INVITE sip:<to>@<trunk> from <from> with our SDP offer.
// Wait for the answer with Outbound.Wait.
func (u *UA) Dial(ctx context.Context, to, from string, offer []byte) (*Outbound, error) {
	host, portStr, err := net.SplitHostPort(u.cfg.Trunk)
	if err != nil {
		return nil, fmt.Errorf("sip: bad trunk %q: %w", u.cfg.Trunk, err)
	}
	port, _ := strconv.Atoi(portStr)
	recipient := gosip.Uri{Scheme: "sip", User: to, Host: host, Port: port}
	req := gosip.NewRequest(gosip.INVITE, recipient)
	req.SetTransport("UDP")
	fromUser := from
	if fromUser == "" {
		fromUser = "anonymous"
	}
	fh := &gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: fromUser, Host: u.cfg.PublicIP.String()}, Params: gosip.NewParams()}
	fh.Params.Add("tag", gosip.GenerateTagN(16))
	th := &gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: to, Host: host, Port: port}, Params: gosip.NewParams()}
	callID := gosip.CallIDHeader(randomID())
	contact := u.contact("UDP")
	req.AppendHeader(fh)
	req.AppendHeader(th)
	req.AppendHeader(&callID)
	req.AppendHeader(&contact)
	req.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)

	out := &Outbound{Leg: newLeg(string(callID)), ua: u}
	u.register(&out.Leg)
	dlg, err := u.dlg.WriteInvite(ctx, req)
	if err != nil {
		u.unregister(&out.Leg)
		return nil, err
	}
	out.dlg = dlg
	out.Leg.ctx = dlg.Context()
	out.Leg.bye = out.bye
	out.Leg.readBye = dlg.ReadBye
	return out, nil
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
