package sip

import (
	"net"
	"time"

	gosip "github.com/emiago/sipgo/sip"
)

// tcpTransport is the TCP (and TLS) transport with the configured limits; a connection that
// a live dialog runs over outlives the idle timeout: the dialog's BYE may come over it after
// an hour without other traffic, and a phone behind NAT cannot take a new connection from us.
func (u *UA) tcpTransport() *gosip.TransportTCP {
	t := u.cfg.tcpTransport()
	t.KeepIdle = u.keepConn
	// The client names our SIP address as every request's local address, which UDP needs
	// (answers come back to the listening socket) but a TCP or TLS dial cannot take: the
	// listener holds the port. Outgoing connections come from an ephemeral port of the same
	// address; Via still names the listening port (RFC 3261 18.1.1), and the answers come
	// back over the connection.
	t.DialerCreate = func(laddr net.Addr) net.Dialer {
		d := net.Dialer{Timeout: time.Minute}
		if a, ok := laddr.(*net.TCPAddr); ok && a != nil {
			d.LocalAddr = &net.TCPAddr{IP: a.IP}
		}
		return d
	}
	return t
}

// keepConn tells whether a live dialog runs over the connection to raddr.
func (u *UA) keepConn(raddr string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, l := range u.legs {
		if l.streamAddr() == raddr {
			return true
		}
	}
	return false
}
