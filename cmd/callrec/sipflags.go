package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// sipConfig is the SIP side of serve's configuration beyond the listen address, and the
// engine's call caps. Zero values mean the engine's defaults, which the flag help names.
type sipConfig struct {
	UserAgent      string
	TCPIdle        time.Duration
	TCPMessage     time.Duration
	TCPConnsPerSrc int
	Trusted        string // CIDR[,CIDR...]; parsed by trustedNets
	InviteRate     int
	UnansweredSrc  int
	CallsPerPool   int
	CallsPerCust   int
	Trunk          trunkConfig // trunkflags.go
}

func (s *sipConfig) flags(fs *flag.FlagSet, env func(key, def string) string) {
	fs.StringVar(&s.UserAgent, "sip-user-agent", env("CALLREC_SIP_USER_AGENT", ""),
		"User-Agent and Server header value; empty: none, nothing names the software (CALLREC_SIP_USER_AGENT)")
	fs.DurationVar(&s.TCPIdle, "sip-tcp-idle-timeout", envDuration(env("CALLREC_SIP_TCP_IDLE_TIMEOUT", ""), 0),
		"close SIP TCP connections idle this long; 0: 3m, negative: never (CALLREC_SIP_TCP_IDLE_TIMEOUT)")
	fs.DurationVar(&s.TCPMessage, "sip-tcp-message-timeout", envDuration(env("CALLREC_SIP_TCP_MESSAGE_TIMEOUT", ""), 0),
		"close SIP TCP connections whose message has not arrived in full this long after it began; 0: 32s (64*T1), negative: never (CALLREC_SIP_TCP_MESSAGE_TIMEOUT)")
	fs.IntVar(&s.TCPConnsPerSrc, "sip-tcp-conns-per-source", envInt(env("CALLREC_SIP_TCP_CONNS_PER_SOURCE", ""), 0),
		"SIP TCP connections accepted from one address at a time; 0: 16, negative: no cap (CALLREC_SIP_TCP_CONNS_PER_SOURCE)")
	fs.StringVar(&s.Trusted, "sip-trusted", env("CALLREC_SIP_TRUSTED", ""),
		"CIDR[,CIDR...] allowed to send calls and requests outside a dialog (others get 403); default: 127.0.0.0/8 when --sip is loopback, required otherwise (CALLREC_SIP_TRUSTED)")
	fs.IntVar(&s.InviteRate, "sip-invite-rate", envInt(env("CALLREC_SIP_INVITE_RATE", ""), 0),
		"new INVITEs a second one source address may send (twice that in a burst); 0: 50, negative: no limit (CALLREC_SIP_INVITE_RATE)")
	fs.IntVar(&s.UnansweredSrc, "sip-unanswered-per-source", envInt(env("CALLREC_SIP_UNANSWERED_PER_SOURCE", ""), 0),
		"calls one source address may have unconfirmed (no answer and ACK yet) at once; 0: 100, negative: no cap (CALLREC_SIP_UNANSWERED_PER_SOURCE)")
	fs.IntVar(&s.CallsPerPool, "calls-per-pool", envInt(env("CALLREC_CALLS_PER_POOL", ""), 0),
		"concurrent calls per number pool (486 beyond); 0: 200, negative: no cap (CALLREC_CALLS_PER_POOL)")
	fs.IntVar(&s.CallsPerCust, "calls-per-customer", envInt(env("CALLREC_CALLS_PER_CUSTOMER", ""), 0),
		"concurrent calls per customer (486 beyond); 0: 500, negative: no cap (CALLREC_CALLS_PER_CUSTOMER)")
	s.Trunk.flags(fs, env)
}

// trustedNets parses --sip-trusted; a bare address is one host.
func (s sipConfig) trustedNets() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s.Trusted, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("--sip-trusted: %q is not a CIDR or an IP address", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// checkTrust refuses a SIP listener other machines can reach when nobody is named who may use
// it: anyone could otherwise place calls through the engine.
func (s sipConfig) checkTrust(sipAddr string) error {
	nets, err := s.trustedNets()
	if err != nil || len(nets) > 0 {
		return err
	}
	host, _, err := net.SplitHostPort(sipAddr)
	if err != nil {
		return fmt.Errorf("--sip %q: %w", sipAddr, err)
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("SIP listens on %s, which other machines can reach, but no trusted peers are set: "+
		"name the proxies or carriers that may send calls with --sip-trusted CIDR[,CIDR...] (CALLREC_SIP_TRUSTED), "+
		"e.g. --sip-trusted 192.0.2.10/32, or listen on 127.0.0.1", sipAddr)
}
