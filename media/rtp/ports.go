package rtp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"
)

// quarantine is how long a released port is not lent again while others are free, so late
// packets of an ended call do not reach a new one.
const quarantine = 5 * time.Second

// ErrNoPorts means every even port of the range is in use.
var ErrNoPorts = errors.New("rtp: no free port in range")

// Ports hands out even UDP ports from an inclusive range (RTCP would take the odd one above).
// It remembers which ports it lent, and skips ports another process holds.
type Ports struct {
	ip     netip.Addr
	lo, hi int

	mu       sync.Mutex
	inUse    map[int]bool
	released map[int]time.Time
}

// NewPorts prepares lending ports lo..hi on ip. lo is rounded up to even.
func NewPorts(ip netip.Addr, lo, hi int) (*Ports, error) {
	if lo%2 == 1 {
		lo++
	}
	if hi%2 == 0 {
		hi-- // the RTCP port of the last even port must be in the range too
	}
	if lo <= 0 || hi > 65535 || lo >= hi {
		return nil, fmt.Errorf("rtp: bad port range %d-%d", lo, hi)
	}
	return &Ports{ip: ip, lo: lo, hi: hi, inUse: map[int]bool{}, released: map[int]time.Time{}}, nil
}

// Open binds a socket on a free even port chosen at random, so nobody can predict the next
// call's port from the last one's. A port released less than quarantine ago is taken only
// when no other is free.
func (p *Ports) Open() (*Socket, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	span := (p.hi - p.lo + 1) / 2
	now := time.Now()
	for pass := 0; pass < 2; pass++ {
		start := rand.IntN(span)
		for i := 0; i < span; i++ {
			port := p.lo + 2*((start+i)%span)
			if p.inUse[port] {
				continue
			}
			if at, ok := p.released[port]; ok {
				if now.Sub(at) >= quarantine {
					delete(p.released, port)
				} else if pass == 0 {
					continue
				}
			}
			conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
			if err != nil {
				continue
			}
			// RTCP on the port above (RFC 3550 11) for peers that do not mux it.
			ctl, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port+1))))
			if err != nil {
				conn.Close()
				continue
			}
			p.inUse[port] = true
			delete(p.released, port)
			return newSocket(conn, ctl, port, p), nil
		}
	}
	return nil, ErrNoPorts
}

// InUse reports how many ports are lent; tests use it to find leaks.
func (p *Ports) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse)
}

func (p *Ports) release(port int) {
	p.mu.Lock()
	delete(p.inUse, port)
	p.released[port] = time.Now()
	p.mu.Unlock()
}
