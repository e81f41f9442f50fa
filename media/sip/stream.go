package sip

import gosip "github.com/emiago/sipgo/sip"

// tcpTransport is the TCP (and TLS) transport with the configured limits; a connection that
// a live dialog runs over outlives the idle timeout: the dialog's BYE may come over it after
// an hour without other traffic, and a phone behind NAT cannot take a new connection from us.
func (u *UA) tcpTransport() *gosip.TransportTCP {
	t := u.cfg.tcpTransport()
	t.KeepIdle = u.keepConn
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
