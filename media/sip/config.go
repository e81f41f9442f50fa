package sip

import (
	"errors"
	"log/slog"
	"net/netip"
	"time"

	gosip "github.com/emiago/sipgo/sip"
)

// Config is the signalling part of the engine's configuration.
type Config struct {
	Addr     string     // host:port to listen on, UDP and TCP; port 0 picks a free one
	PublicIP netip.Addr // put into Contact and SDP; default: the listen host
	Trunk    string     // host:port where outbound legs go
	Logger   *slog.Logger

	// UserAgent, when set, is sent as User-Agent in our requests and Server in our
	// responses. Empty (the default) names no software to anyone.
	UserAgent string

	// TCPIdleTimeout closes a TCP connection on which nothing arrived for this long
	// (default DefaultTCPIdleTimeout); TCPMessageTimeout one whose message has not arrived in
	// full this long after it began (default 64*T1); TCPConnsPerSource caps the connections
	// from one address (default DefaultTCPConnsPerSource). Negative: no limit.
	TCPIdleTimeout    time.Duration
	TCPMessageTimeout time.Duration
	TCPConnsPerSource int

	// Trusted are the networks INVITEs and requests outside a dialog are taken from; anyone
	// else gets 403. Empty means the listen address's own loopback network (127.0.0.0/8 or
	// ::1/128); Listen refuses an empty list on any other address. The trunk is trusted for
	// the responses and in-dialog requests of the legs dialled to it, listed or not.
	Trusted []netip.Prefix

	// InviteRate is how many new INVITEs a second one source address may send (twice that
	// in a burst); UnansweredPerSource how many of its calls may be unconfirmed at once (no
	// final answer and ACK yet). Beyond either: 503. Zero: the defaults; negative: no limit.
	InviteRate          int
	UnansweredPerSource int

	// OnRequest, when set, is told each request received with the final response code it got
	// (0 for an ACK, which gets none): the metrics.
	OnRequest func(method string, code int)
}

// Defaults for Config's limits.
const (
	DefaultTCPIdleTimeout    = 3 * time.Minute
	DefaultTCPMessageTimeout = 64 * 500 * time.Millisecond // 64*T1, RFC 3261 17.1.1.1
	DefaultTCPConnsPerSource = 16
	// A proxy in front carries every call from one address: the per-source limits must let
	// its normal load through and still stop one flooding source from taking the engine.
	DefaultInviteRate          = 50
	DefaultUnansweredPerSource = 100
)

// ErrNoTrustedPeers: the listener is reachable from other machines and nobody is named who
// may send calls.
var ErrNoTrustedPeers = errors.New("sip: the listen address is not a loopback address and no trusted peers are set")

// trustedNets is Config.Trusted, or the loopback default for a loopback listener.
func (c *Config) trustedNets(listen netip.Addr) ([]netip.Prefix, error) {
	if len(c.Trusted) > 0 {
		return c.Trusted, nil
	}
	switch {
	case listen.Is4() && listen.IsLoopback():
		return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, nil
	case listen.IsLoopback():
		return []netip.Prefix{netip.MustParsePrefix("::1/128")}, nil
	}
	return nil, ErrNoTrustedPeers
}

// limit is v, or def when v is zero, or 0 (none) when v is negative.
func limit(v, def int) int {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}

func (c *Config) tcpTransport() *gosip.TransportTCP {
	pick := func(v, def time.Duration) time.Duration {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return def
		}
		return v
	}
	return &gosip.TransportTCP{
		IdleTimeout:       pick(c.TCPIdleTimeout, DefaultTCPIdleTimeout),
		MessageTimeout:    pick(c.TCPMessageTimeout, DefaultTCPMessageTimeout),
		MaxConnsPerSource: limit(c.TCPConnsPerSource, DefaultTCPConnsPerSource),
	}
}
