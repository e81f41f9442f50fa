package sip

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// listenTLS binds SIP over TLS. The certificate comes from the caller (cmd/callrec: the
// --sip-tls-cert and --sip-tls-key files); TLS 1.2 is the least (RFC 8996 retired the older
// versions).
func listenTLS(addr string, conf *tls.Config) (net.Listener, int, error) {
	if conf == nil || (len(conf.Certificates) == 0 && conf.GetCertificate == nil) {
		return nil, 0, errors.New("sip: TLS needs a certificate")
	}
	conf = conf.Clone()
	if conf.MinVersion < tls.VersionTLS12 {
		conf.MinVersion = tls.VersionTLS12
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, 0, fmt.Errorf("sip: listen tls %s: %w", addr, err)
	}
	return tls.NewListener(l, conf), l.Addr().(*net.TCPAddr).Port, nil
}

// TLSAddr is the bound SIP over TLS address (invalid without Config.TLSAddr).
func (u *UA) TLSAddr() netip.AddrPort {
	if u.tls == nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(u.addr.Addr(), uint16(u.tlsPort))
}
