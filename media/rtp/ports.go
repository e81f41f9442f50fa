package rtp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// ErrNoPorts means every even port of the range is in use.
var ErrNoPorts = errors.New("rtp: no free port in range")

// Ports hands out even UDP ports from an inclusive range (RTCP would take the odd one above).
// It remembers which ports it lent, and skips ports another process holds.
type Ports struct {
	ip     netip.Addr
	lo, hi int

	mu    sync.Mutex
	next  int
	inUse map[int]bool
}

// NewPorts prepares lending ports lo..hi on ip. lo is rounded up to even.
func NewPorts(ip netip.Addr, lo, hi int) (*Ports, error) {
	if lo%2 == 1 {
		lo++
	}
	if lo <= 0 || hi > 65535 || lo > hi {
		return nil, fmt.Errorf("rtp: bad port range %d-%d", lo, hi)
	}
	return &Ports{ip: ip, lo: lo, hi: hi, next: lo, inUse: map[int]bool{}}, nil
}

// Open binds a socket on the next free even port. Round robin, so a port just released is
// not reused at once and late packets of an ended call do not reach a new one.
func (p *Ports) Open() (*Socket, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	span := (p.hi-p.lo)/2 + 1
	for i := 0; i < span; i++ {
		port := p.next
		p.next += 2
		if p.next > p.hi {
			p.next = p.lo
		}
		if p.inUse[port] {
			continue
		}
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err != nil {
			continue
		}
		p.inUse[port] = true
		return newSocket(conn, port, p), nil
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
	p.mu.Unlock()
}
