package sip

import (
	"crypto/tls"
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

	// TLSAddr, when set, is where SIP over TLS listens (RFC 3261 26.2, 5061 by custom), with
	// TLS's certificate. TrunkTransport is how legs reach the trunk: "udp" (default), "tcp" or
	// "tls" (then verified with TrunkTLS: its RootCAs, or the system's when nil).
	TLSAddr        string
	TLS            *tls.Config
	TrunkTransport string
	TrunkTLS       *tls.Config

	// Trunk is also who may challenge us: TrunkUser and TrunkPassword answer its 401 and 407
	// (digest, MD5 or SHA-256, qop=auth) on INVITE, re-INVITE, UPDATE, BYE and REGISTER.
	// TrunkRegister keeps a registration at the trunk (RFC 3261 10), renewed before it
	// expires and retried with back-off when it fails; RegisterExpires is what we ask for
	// (default 3600 s).
	TrunkUser, TrunkPassword string
	TrunkRegister            bool
	RegisterExpires          time.Duration

	// SessionExpires is the session interval we ask callees for and grant callers that support
	// session timers (RFC 4028; default 1800 s); MinSE the least we accept (default 90 s, the
	// RFC's floor; tests go lower). Negative SessionExpires: no session timers of our own
	// (a peer's are still honoured).
	SessionExpires time.Duration
	MinSE          time.Duration

	// TrunkSRTP is what the destination legs offer: "" (plain RTP), "offer" (RTP/AVP with an
	// SDES key: SRTP if the trunk takes it) or "require" (RTP/SAVP: SRTP or no call).
	TrunkSRTP string
}

// Defaults of the session timer (RFC 4028 4, 5).
const (
	DefaultSessionExpires = 1800 * time.Second
	DefaultMinSE          = 90 * time.Second
)

func (c *Config) sessionExpires() time.Duration {
	switch {
	case c.SessionExpires < 0:
		return 0
	case c.SessionExpires == 0:
		return DefaultSessionExpires
	}
	return c.SessionExpires
}

func (c *Config) minSE() time.Duration {
	if c.MinSE <= 0 {
		return DefaultMinSE
	}
	return c.MinSE
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
