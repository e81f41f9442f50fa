// Package media is the recording engine's face: an Engine that answers SIP calls to the
// customers' numbers, plays the announcements, honours '*' and '#1', bridges the call and
// records it. It asks a Directory where a dialed number goes and tells a Sink what happens;
// it never touches the Control Panel's database itself.
//
// Wiring (cmd/callrec serve):
//
//	for each recording the database still marks in progress:
//		media.Repair(dataDir, rel)           // fix the header; mark the call interrupted
//	e, err := media.New(media.Config{SIPAddr: sip, Trunk: trunk, PublicIP: ip,
//		RTPPorts: [2]int{lo, hi}, DataDir: dataDir, Logger: log}, directory, sink)
//	go e.Run(ctx)                            // returns after ctx ends and calls are hung up
//
// New binds the SIP port at once (UDP and TCP), so a taken port fails start-up. The
// Directory returns ErrUnknownNumber (or an error wrapping it) for numbers in no pool: 404.
// The Sink gets CallChanged for every state change (the first with State "ringing"), then
// CallEnded once; a call that ends with a file has Recording set, its Path relative to
// DataDir. RTP binds to the SIPAddr host; set PublicIP when that host is 0.0.0.0 or NATed.
package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // customers' time zones name recording files; containers lack zoneinfo

	"callrec/media/recorder"
	"callrec/media/rtp"
	"callrec/media/sip"
)

// Engine is the recording engine. Make one with New, then Run it.
type Engine struct {
	cfg  Config
	dir  Directory
	sink Sink
	log  *slog.Logger

	ua      *sip.UA
	ports   *rtp.Ports
	pollers []*rtp.Poller
	nextPol atomic.Uint32
	clock   *rtp.Clock
	root    *os.Root
	prompts promptCache

	mu    sync.Mutex
	calls map[string]*call
	caps  *callCaps
}

// New checks cfg, binds the SIP port (UDP and TCP) and opens the data folder. Nothing is
// served until Run.
func New(cfg Config, dir Directory, sink Sink) (*Engine, error) {
	if dir == nil || sink == nil {
		return nil, errors.New("media: Directory and Sink are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = 60 * time.Second
	}
	if cfg.ObjectionWindow <= 0 {
		cfg.ObjectionWindow = 3 * time.Second
	}
	if cfg.BusyTone <= 0 {
		cfg.BusyTone = 3 * time.Second
	}
	if cfg.RTPPorts == [2]int{} {
		cfg.RTPPorts = [2]int{20000, 29999}
	}
	if cfg.Trunk == "" {
		return nil, errors.New("media: Config.Trunk is required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("media: Config.DataDir is required")
	}
	host, _, err := net.SplitHostPort(cfg.SIPAddr)
	if err != nil {
		return nil, fmt.Errorf("media: bad SIPAddr %q: %w", cfg.SIPAddr, err)
	}
	bindIP := netip.IPv4Unspecified()
	if host != "" {
		if bindIP, err = netip.ParseAddr(host); err != nil {
			return nil, fmt.Errorf("media: SIPAddr host must be an IP address: %w", err)
		}
	}
	var public netip.Addr
	if cfg.PublicIP != "" {
		if public, err = netip.ParseAddr(cfg.PublicIP); err != nil {
			return nil, fmt.Errorf("media: bad PublicIP %q: %w", cfg.PublicIP, err)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("media: data dir: %w", err)
	}
	root, err := os.OpenRoot(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("media: data dir: %w", err)
	}
	ports, err := rtp.NewPorts(bindIP, cfg.RTPPorts[0], cfg.RTPPorts[1])
	if err != nil {
		root.Close()
		return nil, err
	}
	e := &Engine{cfg: cfg, dir: dir, sink: sink, log: cfg.Logger, ports: ports, clock: rtp.NewClock(rtp.Frame),
		root: root, calls: map[string]*call{}, caps: newCallCaps(cfg.CallsPerPool, cfg.CallsPerCustomer)}
	if !cfg.RTPGoroutines {
		for i := 0; i < runtime.GOMAXPROCS(0); i++ {
			p, err := rtp.NewPoller()
			if err != nil {
				e.log.Info("RTP sockets read by one goroutine each", "reason", err)
				e.pollers = nil
				break
			}
			e.pollers = append(e.pollers, p)
		}
	}
	e.ua, err = sip.Listen(sip.Config{Addr: cfg.SIPAddr, PublicIP: public, Trunk: cfg.Trunk, Logger: cfg.Logger,
		UserAgent: cfg.SIPUserAgent, TCPIdleTimeout: cfg.SIPTCPIdleTimeout, TCPMessageTimeout: cfg.SIPTCPMessageTimeout,
		TCPConnsPerSource: cfg.SIPTCPConnsPerSource, Trusted: cfg.SIPTrusted, OnRequest: cfg.OnSIPRequest,
		InviteRate: cfg.SIPInviteRate, UnansweredPerSource: cfg.SIPUnansweredPerSource,
		TLSAddr: cfg.SIPTLSAddr, TLS: cfg.SIPTLS, TrunkTransport: cfg.TrunkTransport, TrunkTLS: cfg.TrunkTLS,
		TrunkUser: cfg.TrunkUser, TrunkPassword: cfg.TrunkPassword, TrunkRegister: cfg.TrunkRegister,
		RegisterExpires: cfg.RegisterExpires, SessionExpires: cfg.SessionExpires, MinSE: cfg.MinSE,
		TrunkSRTP: cfg.TrunkSRTP}, e)
	if err != nil {
		root.Close()
		return nil, err
	}
	return e, nil
}

// readRTP starts reading a leg's socket: on an epoll reader, or on a goroutine of its own.
func (e *Engine) readRTP(s *rtp.Socket, h rtp.Handler) error {
	if len(e.pollers) == 0 {
		go s.Serve(h)
		return nil
	}
	p := e.pollers[int(e.nextPol.Add(1))%len(e.pollers)]
	return p.Add(s, h)
}

// horizon is the time up to which the packet readers have delivered every packet that
// reached the engine's sockets (at most now). Goroutine readers give no such bound: now.
func (e *Engine) horizon(now time.Time) (time.Time, bool) {
	h := now
	for _, p := range e.pollers {
		h = minTime(h, p.Horizon())
	}
	// Never more than maxReaderLag behind: a reader that cannot keep up (or any fault in its
	// bookkeeping) must not hold every recording back until its ring overflows.
	if lag := now.Add(-maxReaderLag); h.Before(lag) {
		return lag, true
	}
	return h, false
}

// maxReaderLag bounds how far the recorders wait for the packet readers: a stop of the
// process for this long loses nothing (the recorder's ring holds 4.1 s per direction, less
// its delay and the clock's step).
const maxReaderLag = 3 * time.Second

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// awaitReaders waits briefly until the readers have delivered what arrived before t, so the
// end of a recording is not cut short by packets still queued in a socket.
func (e *Engine) awaitReaders(t time.Time) {
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if h, _ := e.horizon(time.Now()); !h.Before(t) {
			return
		}
	}
}

// SIPAddr is the bound SIP address (useful when Config.SIPAddr had port 0).
func (e *Engine) SIPAddr() string { return e.ua.Addr().String() }

// SIPTLSAddr is the bound SIP over TLS address ("" without Config.SIPTLSAddr).
func (e *Engine) SIPTLSAddr() string {
	if a := e.ua.TLSAddr(); a.IsValid() {
		return a.String()
	}
	return ""
}

// Health is the engine's part of a health check: the live calls and the trunk registration.
type Health struct {
	Calls        int                `json:"calls"`
	Registration RegistrationStatus `json:"trunk_registration"`
}

// RegistrationStatus is the trunk registration; its State is one of the Reg constants.
type RegistrationStatus = sip.RegistrationStatus

// The trunk registration's states: off (no --trunk-register), registering, registered, failed.
const (
	RegOff         = sip.RegOff
	RegRegistering = sip.RegRegistering
	RegRegistered  = sip.RegRegistered
	RegFailed      = sip.RegFailed
)

// Health reports the engine's state: its live calls and the trunk registration (the platform
// admin's Nodes page and home show it, and the nodes API).
func (e *Engine) Health() Health {
	e.mu.Lock()
	n := len(e.calls)
	e.mu.Unlock()
	return Health{Calls: n, Registration: e.ua.Registration()}
}

// Run serves SIP until ctx ends, then hangs up every call (BYE to both legs), closes their
// recordings properly and returns.
func (e *Engine) Run(ctx context.Context) error {
	clockCtx, stopClock := context.WithCancel(context.Background())
	defer stopClock()
	go e.clock.Run(clockCtx)
	stopPollers := make(chan struct{})
	for _, p := range e.pollers {
		go p.Run(stopPollers)
	}
	defer close(stopPollers)
	err := e.ua.Serve(ctx)
	e.root.Close()
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// Drain stops taking calls: from now on new INVITEs and OPTIONS are answered 503 (a
// dispatcher in front, probing with OPTIONS, sends new calls elsewhere), while the calls in
// progress go on to their natural end. Active says when none is left.
func (e *Engine) Drain() { e.ua.SetDraining(true) }

// Active is how many inbound calls the engine is handling, from the INVITE to the call's end.
func (e *Engine) Active() int { return e.ua.Calls() }

// Calls is a snapshot of the live calls, oldest first.
func (e *Engine) Calls() []CallInfo {
	e.mu.Lock()
	cs := make([]*call, 0, len(e.calls))
	for _, c := range e.calls {
		cs = append(cs, c)
	}
	e.mu.Unlock()
	out := make([]CallInfo, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Arrival.Before(out[j].Arrival) })
	return out
}

// Call is one live call's snapshot.
func (e *Engine) Call(id string) (CallInfo, bool) {
	c := e.call(id)
	if c == nil {
		return CallInfo{}, false
	}
	return c.snapshot(), true
}

// StartRecording starts (or resumes) recording a connected call; idempotent.
func (e *Engine) StartRecording(id, by string) (CallInfo, error) {
	return e.setRecording(id, by, true)
}

// StopRecording pauses recording; the file goes on with silence. Idempotent.
func (e *Engine) StopRecording(id, by string) (CallInfo, error) {
	return e.setRecording(id, by, false)
}

func (e *Engine) setRecording(id, by string, on bool) (CallInfo, error) {
	c := e.call(id)
	if c == nil {
		return CallInfo{}, ErrNoSuchCall
	}
	changed, err := c.setRecording(time.Now(), by, on)
	if err != nil {
		return c.snapshot(), err
	}
	if changed {
		c.changed()
	}
	return c.snapshot(), nil
}

func (e *Engine) call(id string) *call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[id]
}

func (e *Engine) add(c *call) {
	e.mu.Lock()
	e.calls[c.id] = c
	e.mu.Unlock()
}

func (e *Engine) remove(c *call) {
	e.mu.Lock()
	delete(e.calls, c.id)
	e.mu.Unlock()
}

// Repair fixes the header of a recording left unfinished by a crash (cmd/callrec calls it at
// start-up for each recording still marked in progress). Returns the repaired duration and size.
func Repair(dataDir, relPath string) (time.Duration, int64, error) {
	root, err := os.OpenRoot(dataDir)
	if err != nil {
		return 0, 0, err
	}
	defer root.Close()
	res, err := recorder.Repair(root, relPath)
	if err != nil {
		return 0, 0, err
	}
	return res.Duration, res.Size, nil
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
