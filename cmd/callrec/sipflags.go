package main

import (
	"flag"
	"time"
)

// sipConfig is the SIP side of serve's configuration beyond the listen address. Zero values
// mean the engine's defaults, which the flag help names.
type sipConfig struct {
	UserAgent      string
	TCPIdle        time.Duration
	TCPMessage     time.Duration
	TCPConnsPerSrc int
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
}
