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
	"crypto/tls"
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

	"callrec/calls"
	"callrec/media/recorder"
	"callrec/media/rtp"
	"callrec/media/sip"
)

var (
	ErrUnknownNumber      = errors.New("media: number belongs to no pool")
	ErrNoSuchCall         = errors.New("media: no such call")
	ErrCallerObjected     = errors.New("media: caller objected to recording")
	ErrRecordingNotBooked = errors.New("media: recording not booked or disabled")
	// ErrCalleeInterrupted: the callee pressed #1; the recording stays off for the rest of the call.
	ErrCalleeInterrupted = errors.New("media: callee interrupted the recording")
)

// Directory is how the engine asks the Control Panel (internal/enginestore answers from models).
type Directory interface {
	// Route for a dialed number (digits only, as in the Request-URI user part).
	// ErrUnknownNumber when no pool has that number.
	Route(ctx context.Context, dialed string) (Route, error)
}

// Route is where a dialed number goes and how its calls are recorded.
type Route struct {
	CustomerID   uint
	PoolID       uint
	SubscriberID string
	StartNumber  string
	Destination  string         // c number, dialed as sip:<c>@<trunk>
	Location     *time.Location // customer's time zone, for the file name's date/time
	Recording    Policy
	// MaxCalls caps the pool's concurrent calls; 0: Config.CallsPerPool.
	MaxCalls int
}

// Policy is the pool's Call Recording module as booked and configured.
type Policy struct {
	Active       bool // module booked AND enabled; false => plain B2BUA, no prompts, no file
	Mode         Mode
	CallerNotice bool // play the caller notice (and listen for *)
	Stereo       bool // caller left, callee right; else mono mix
	Prompts      Prompts
}

// Prompts are absolute paths of announcement audio files (any format audio.LoadPCM reads),
// already chosen in the customer's language.
type Prompts struct{ CallerNotice, ObjectionConfirmation, CalleeWhisper string }

// Sink receives call and recording events on signalling goroutines, never per packet.
// Implementations must be quick.
type Sink interface {
	CallChanged(ctx context.Context, c CallInfo) // every state change, including the first
	CallEnded(ctx context.Context, c CallInfo)   // final; Outcome set, Recording set if a file exists
}

// The call's vocabulary is defined once, in package calls, for the engine and the Control Panel
// alike; these names keep the engine's code short. Add a value in calls (its lists feed the
// translation test), never here.
type (
	CallState = calls.State
	RecState  = calls.RecState
	Outcome   = calls.Outcome
	Mode      = calls.Mode
	EventKind = calls.EventKind
	Segment   = calls.Segment
)

const (
	StateRinging    = calls.StateRinging
	StateAnnouncing = calls.StateAnnouncing
	StateConnected  = calls.StateConnected
	StateEnded      = calls.StateEnded

	RecOff       = calls.RecOff
	RecRecording = calls.RecRecording
	RecStopped   = calls.RecStopped
	RecObjected  = calls.RecObjected
	RecFailed    = calls.RecFailed

	OutcomeCompleted   = calls.OutcomeCompleted
	OutcomeObjected    = calls.OutcomeObjected
	OutcomeUnanswered  = calls.OutcomeUnanswered
	OutcomeBusy        = calls.OutcomeBusy
	OutcomeFailed      = calls.OutcomeFailed
	OutcomeInterrupted = calls.OutcomeInterrupted

	ModeAutomatic = calls.ModeAutomatic
	ModeManual    = calls.ModeManual

	EventNoticePlayed       = calls.EventNoticePlayed
	EventStarPressed        = calls.EventStarPressed
	EventConfirmationPlayed = calls.EventConfirmationPlayed
	EventWhisperPlayed      = calls.EventWhisperPlayed
	EventHash1Pressed       = calls.EventHash1Pressed
	EventRecordingStarted   = calls.EventRecordingStarted
	EventRecordingStopped   = calls.EventRecordingStopped
	EventRecordingFailed    = calls.EventRecordingFailed
	EventHeld               = calls.EventHeld
	EventResumed            = calls.EventResumed
	EventSessionExpired     = calls.EventSessionExpired
	EventSignallingError    = calls.EventSignallingError
)

// CallInfo is a snapshot of one call.
type CallInfo struct {
	ID                        string // engine's call id
	SIPCallID                 string
	CustomerID, PoolID        uint
	SubscriberID, StartNumber string
	A, B, C                   string // caller (empty when withheld), dialed, destination
	// Diversion and HistoryInfo are the INVITE's redirection headers (RFC 5806, RFC 7044) as
	// they came, for the call record: the number the call was forwarded from.
	Diversion, HistoryInfo            string
	Arrival, Answered, Bridged, Ended time.Time
	State                             CallState
	Rec                               RecState
	Mode                              Mode
	Outcome                           Outcome
	Recorded                          time.Duration
	Events                            []Event
	Segments                          []Segment // offsets from Bridged
	Recording                         *RecordingInfo
	// PacketsIn and PacketsOut count RTP audio packets per leg (0 caller, 1 callee): received
	// from the leg and sent to it. For operations and tests; no part of the call row.
	PacketsIn, PacketsOut [2]uint64
	// RTPForeign counts, per leg, RTP packets from sources other than the leg's negotiated
	// (or latched) peer, dropped: hijack attempts, a sprayed port range, stray streams.
	RTPForeign [2]uint64
	// RTPKernelDrops counts, per leg, datagrams the kernel dropped on the leg's socket because
	// the engine's reader had not emptied its buffer: audio the engine lost by being slow.
	RTPKernelDrops [2]uint64
	// PacketsRelayed counts, per leg, the packets of the other leg's audio sent to it (the
	// rest of PacketsOut is the engine's own: prompts, ringback).
	PacketsRelayed [2]uint64
	// ReadersLagged: during the call the packet readers fell more than 3 s behind (a machine
	// starved of CPU) and the recording went on without what was still queued then.
	ReadersLagged bool
	// RTCPIn and RTCPOut count, per leg, RTCP packets taken from the peer and sent to it; SRTP
	// tells which legs speak SRTP and SRTPFailed counts their packets that did not
	// authenticate (dropped).
	RTCPIn, RTCPOut [2]uint64
	SRTP            [2]bool
	SRTPFailed      [2]uint64
}

// Event is one entry of the consent trail.
type Event struct {
	At     time.Time
	Kind   EventKind
	By     string // user name for manual start/stop; "caller"/"callee"/"system" otherwise
	Detail string
}

// RecordingInfo describes the file of a call.
type RecordingInfo struct {
	Path     string // relative to the data dir, slash-separated
	Channels int
	Size     int64
	Duration time.Duration // file length (bridge..hangup)
	Recorded time.Duration
	Failed   string // reason when writing failed (disk full)
	// Late is, per leg (0 caller, 1 callee), received audio dropped because the engine's
	// readers handed it over after its place in the file was final although it had reached
	// the machine before (the engine's fault: readers more than 3 s behind). For operations
	// and tests.
	Late [2]time.Duration
	// ArrivedLate is, per leg, received audio dropped because it reached the machine (by the
	// kernel's receive time) only after its place in the file was final: a sender or network
	// that stalled for longer than the writer waits.
	ArrivedLate [2]time.Duration
	// Overrun is, per leg, received audio dropped because the packet readers had fallen
	// behind by more than the recorder buffers (seconds: a machine starved of CPU).
	Overrun [2]time.Duration
	// FirstArrival is, per leg, when its first packet after the bridge came (offset from the
	// bridge; -1: none): silence at the start of a channel before it was not sent.
	FirstArrival [2]time.Duration
	// Skipped is, per leg, audio the sender's RTP timestamps jumped over (it fell behind and
	// went on with the present): silence that was in its input.
	Skipped [2]time.Duration
	// LatePackets, OverrunPackets and ArrivedLatePackets count, per leg, the packets behind
	// Late, Overrun and ArrivedLate.
	LatePackets, OverrunPackets, ArrivedLatePackets [2]uint64
}

// Config is the engine's configuration; cmd/callrec fills it from flags.
type Config struct {
	SIPAddr     string        // "127.0.0.1:5060", UDP and TCP; port 0 picks one (see Engine.SIPAddr)
	Trunk       string        // host:port for destination legs
	PublicIP    string        // address put into SDP and Contact; default: host of SIPAddr
	RTPPorts    [2]int        // inclusive range; default 20000-29999
	DataDir     string        // recordings go under DataDir/call_recording/...
	RingTimeout time.Duration // destination no-answer timeout (default 60s)
	Logger      *slog.Logger
	// ClaimRecordingPath, when set, must agree before a recording takes a file name that is
	// free in this node's folder: the nodes of a cluster share one storage, and two calls in
	// the same second on two nodes would otherwise get the same name. It reports whether the
	// name is this node's now; nil: the folder alone decides.
	ClaimRecordingPath func(rel string) bool

	// ObjectionWindow is how long '*' is honoured after the caller notice (default 3 s).
	ObjectionWindow time.Duration
	// BusyTone is how long the caller hears the busy tone before BYE (default 3 s).
	BusyTone time.Duration
	// RTPGoroutines reads each RTP socket from its own goroutine instead of the epoll readers
	// (one per CPU); for comparing the two under load.
	RTPGoroutines bool

	// SIPUserAgent, when set, is sent as User-Agent and Server; empty (default) names nothing.
	SIPUserAgent string
	// SIPTCPIdleTimeout, SIPTCPMessageTimeout and SIPTCPConnsPerSource bound SIP over TCP:
	// idle connections, messages arriving slowly, connections per source address (see
	// sip.Config; 0: the defaults, negative: no limit).
	SIPTCPIdleTimeout    time.Duration
	SIPTCPMessageTimeout time.Duration
	SIPTCPConnsPerSource int
	// OnSIPRequest, when set, is told each SIP request received and its final response code
	// (0 for an ACK): the metrics.
	OnSIPRequest func(method string, code int)
	// SIPTrusted are the networks calls and requests outside a dialog are taken from (403 for
	// others); empty: the loopback network when SIPAddr is loopback, else New refuses to start.
	// The trunk is trusted for the dialogs of the legs dialled to it.
	SIPTrusted []netip.Prefix
	// SIPInviteRate (new INVITEs a second) and SIPUnansweredPerSource (calls not yet
	// confirmed) limit each source address; 503 beyond (see sip.Config; 0: defaults,
	// negative: none).
	SIPInviteRate          int
	SIPUnansweredPerSource int
	// CallsPerPool and CallsPerCustomer cap concurrent calls (486 beyond); Route.MaxCalls
	// overrides the first for its pool. 0: DefaultCallsPerPool/DefaultCallsPerCustomer,
	// negative: no cap.
	CallsPerPool     int
	CallsPerCustomer int

	// SIP over TLS and the trunk (see sip.Config): SIPTLSAddr listens for TLS with SIPTLS's
	// certificate; TrunkTransport (udp, tcp, tls) and TrunkTLS (its trusted CAs) reach the
	// trunk; TrunkUser and TrunkPassword answer its digest challenges; TrunkRegister keeps a
	// registration there; TrunkSRTP is "", "offer" or "require" for the destination legs.
	SIPTLSAddr      string
	SIPTLS          *tls.Config
	TrunkTransport  string
	TrunkTLS        *tls.Config
	TrunkUser       string
	TrunkPassword   string
	TrunkRegister   bool
	RegisterExpires time.Duration
	TrunkSRTP       string
	// SessionExpires and MinSE are the session timers' (RFC 4028) interval we ask for and the
	// least we accept (defaults 1800 s and 90 s).
	SessionExpires time.Duration
	MinSE          time.Duration
}

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
	Calls        int                    `json:"calls"`
	Registration sip.RegistrationStatus `json:"trunk_registration"`
}

// Health reports the engine's state: its live calls and the trunk registration (no page shows
// it yet).
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
