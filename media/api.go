package media

// The engine's face towards its user (cmd/callrec, internal/enginestore, the tests): its errors,
// what it asks (Directory, Route, Policy, Prompts) and tells (Sink, CallInfo, Event,
// RecordingInfo), the call vocabulary's short names, and Config. engine.go runs it.

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"callrec/calls"
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
	// PacketsStale counts, per leg, the packets of the other leg's audio not sent to it
	// because the engine read them more than staleRelay after they arrived (it was stopped or
	// starved): recorded, but too late for the listener.
	PacketsStale [2]uint64
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
	// SentUntil is, per leg, where the audio of its newest packet ends in the file (offset
	// from the bridge; 0: none came): silence at the end of a channel after it was not sent.
	SentUntil [2]time.Duration
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
