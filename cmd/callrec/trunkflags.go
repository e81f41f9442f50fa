package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"callrec/media"
)

// trunkConfig is how the engine speaks to the carrier's trunk and to phones beyond plain UDP:
// digest credentials, a registration, the transport, SRTP, SIP over TLS and session timers.
// Zero values mean the engine's defaults, which the flag help names.
type trunkConfig struct {
	User, Password  string
	Register        bool
	RegisterExpires time.Duration
	Transport       string // udp, tcp, tls
	TLSCA           string // PEM file of the CAs the trunk's certificate is checked against
	SRTP            string // "", offer, require
	TLSAddr         string
	TLSCert, TLSKey string
	SessionExpires  time.Duration
	MinSE           time.Duration
}

func (c *trunkConfig) flags(fs *flag.FlagSet, env func(key, def string) string) {
	fs.StringVar(&c.User, "trunk-user", env("CALLREC_TRUNK_USER", ""),
		"user name for the trunk's digest challenges (401/407, MD5 or SHA-256) on INVITE, re-INVITE, UPDATE, BYE and REGISTER (CALLREC_TRUNK_USER)")
	fs.StringVar(&c.Password, "trunk-password", env("CALLREC_TRUNK_PASSWORD", ""),
		"password for --trunk-user; prefer the environment variable, a flag shows in the process list (CALLREC_TRUNK_PASSWORD)")
	fs.BoolVar(&c.Register, "trunk-register", env("CALLREC_TRUNK_REGISTER", "") == "true",
		"keep a registration at the trunk (renewed before it expires, retried with back-off, failures logged); the variable is true or false (CALLREC_TRUNK_REGISTER)")
	fs.DurationVar(&c.RegisterExpires, "trunk-register-expires", envDuration(env("CALLREC_TRUNK_REGISTER_EXPIRES", ""), 0),
		"registration lifetime asked for; 0: 1h (CALLREC_TRUNK_REGISTER_EXPIRES)")
	fs.StringVar(&c.Transport, "trunk-transport", env("CALLREC_TRUNK_TRANSPORT", ""),
		"how destination legs reach the trunk: udp, tcp or tls; empty: udp (CALLREC_TRUNK_TRANSPORT)")
	fs.StringVar(&c.TLSCA, "trunk-tls-ca", env("CALLREC_TRUNK_TLS_CA", ""),
		"PEM file of the CAs the trunk's TLS certificate must chain to; empty: the system's (CALLREC_TRUNK_TLS_CA)")
	fs.StringVar(&c.SRTP, "trunk-srtp", env("CALLREC_TRUNK_SRTP", ""),
		"SRTP towards the trunk: empty (plain RTP), offer (SDES key offered, RTP/AVP) or require (RTP/SAVP, no call without SRTP) (CALLREC_TRUNK_SRTP)")
	fs.StringVar(&c.TLSAddr, "sip-tls", env("CALLREC_SIP_TLS", ""),
		"ADDR to accept SIP over TLS on (e.g. :5061), with --sip-tls-cert and --sip-tls-key; empty: no TLS (CALLREC_SIP_TLS)")
	fs.StringVar(&c.TLSCert, "sip-tls-cert", env("CALLREC_SIP_TLS_CERT", ""), "SIP over TLS certificate (PEM) (CALLREC_SIP_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "sip-tls-key", env("CALLREC_SIP_TLS_KEY", ""), "SIP over TLS private key (PEM) (CALLREC_SIP_TLS_KEY)")
	fs.DurationVar(&c.SessionExpires, "sip-session-expires", envDuration(env("CALLREC_SIP_SESSION_EXPIRES", ""), 0),
		"session interval (RFC 4028) asked of destinations and granted to callers; 0: 30m, negative: no session timers of ours (CALLREC_SIP_SESSION_EXPIRES)")
	fs.DurationVar(&c.MinSE, "sip-min-se", envDuration(env("CALLREC_SIP_MIN_SE", ""), 0),
		"the least session interval accepted (422 below it); 0: 90s (CALLREC_SIP_MIN_SE)")
}

// check refuses combinations that cannot work, before anything starts.
func (c trunkConfig) check() error {
	switch c.Transport {
	case "", "udp", "tcp", "tls":
	default:
		return fmt.Errorf("--trunk-transport %q: want udp, tcp or tls", c.Transport)
	}
	switch c.SRTP {
	case "", "offer", "require":
	default:
		return fmt.Errorf("--trunk-srtp %q: want offer or require (or nothing)", c.SRTP)
	}
	if c.TLSAddr != "" && (c.TLSCert == "" || c.TLSKey == "") {
		return errors.New("--sip-tls needs --sip-tls-cert and --sip-tls-key")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--sip-tls-cert and --sip-tls-key go together")
	}
	if c.Register && c.User == "" {
		return errors.New("--trunk-register needs --trunk-user (and CALLREC_TRUNK_PASSWORD)")
	}
	if c.SessionExpires > 0 && c.MinSE > 0 && c.SessionExpires < c.MinSE {
		return fmt.Errorf("--sip-session-expires %v is below --sip-min-se %v", c.SessionExpires, c.MinSE)
	}
	return nil
}

// apply puts the trunk settings into the engine's configuration, loading the certificates.
func (c trunkConfig) apply(m *media.Config) error {
	m.TrunkUser, m.TrunkPassword = c.User, c.Password
	m.TrunkRegister, m.RegisterExpires = c.Register, c.RegisterExpires
	m.TrunkTransport, m.TrunkSRTP = c.Transport, c.SRTP
	m.SessionExpires, m.MinSE = c.SessionExpires, c.MinSE
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return fmt.Errorf("--trunk-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--trunk-tls-ca %s: no PEM certificate in it", c.TLSCA)
		}
		m.TrunkTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if c.TLSAddr != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return fmt.Errorf("--sip-tls-cert/--sip-tls-key: %w", err)
		}
		m.SIPTLSAddr = c.TLSAddr
		m.SIPTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return nil
}
