package rtp

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// batch is how many datagrams one recvmmsg takes from a socket. At 20 ms packets a socket
// rarely holds more than one; after the process was stopped or starved it holds many, and
// then one syscall moves a batch.
const batch = 16

// ctrlSize holds one SCM_TIMESTAMPNS control message (header plus timespec, aligned).
const ctrlSize = 64

// mmsghdr is struct mmsghdr for recvmmsg.
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
	_   [4]byte
}

// Poller reads many sockets from one goroutine with epoll, instead of one goroutine per
// socket parked in the runtime's netpoller. A packet then costs one recvfrom and no
// goroutine wake-up, and one epoll_wait serves every socket that became readable meanwhile:
// with a thousand calls that is most of the CPU a packet costs beyond its two syscalls.
type Poller struct {
	epfd int

	// mu guards socks. Dispatch holds it shared for a whole batch; Remove takes it exclusively,
	// so a socket is never read after Remove returns (its fd number may be reused at once).
	mu    sync.RWMutex
	socks map[int32]*Socket

	// horizon (nanoseconds since epoch0, monotonic) is a time before which every datagram
	// that reached any of the poller's sockets has been handed to its handler.
	horizon atomic.Int64

	// The reader's recvmmsg buffers, set up once (Run's goroutine only).
	msgs  [batch]mmsghdr
	iov   [batch]syscall.Iovec
	names [batch]syscall.RawSockaddrAny
	ctrl  [batch][ctrlSize]byte
	bufs  [batch][MaxPacket]byte
}

// Horizon is the time up to which every packet that reached the poller's sockets has been
// delivered: a recorder may commit the audio before it, because nothing for it is queued.
func (p *Poller) Horizon() time.Time { return epoch0.Add(time.Duration(p.horizon.Load())) }

func (p *Poller) setHorizon(t time.Time) { p.horizon.Store(int64(t.Sub(epoch0))) }

// NewPoller creates the epoll instance; Run serves it.
func NewPoller() (*Poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &Poller{epfd: fd, socks: map[int32]*Socket{}}
	for i := range p.msgs {
		p.iov[i].Base = &p.bufs[i][0]
		p.iov[i].SetLen(MaxPacket)
		h := &p.msgs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&p.names[i]))
		h.Iov = &p.iov[i]
		h.Iovlen = 1
		h.Control = &p.ctrl[i][0]
	}
	p.setHorizon(time.Now())
	return p, nil
}

// Add registers s; its packets go to h from the poller's goroutine.
func (p *Poller) Add(s *Socket, h Handler) error {
	raw, err := s.conn.SyscallConn()
	if err != nil {
		return err
	}
	var fd int
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return err
	}
	s.fd, s.handler, s.poller = fd, h, p
	p.mu.Lock()
	p.socks[int32(fd)] = s
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.socks, int32(fd))
		p.mu.Unlock()
		return err
	}
	return nil
}

// Len is how many sockets are registered; tests use it to find leaks.
func (p *Poller) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.socks)
}

func (p *Poller) remove(s *Socket) {
	p.mu.Lock()
	if p.socks[int32(s.fd)] == s {
		delete(p.socks, int32(s.fd))
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, s.fd, nil)
	}
	p.mu.Unlock()
}

// Run waits for packets until stop is closed, then closes the epoll instance.
func (p *Poller) Run(stop <-chan struct{}) {
	defer syscall.Close(p.epfd)
	// Room for every socket a busy engine has: a full array would leave the pass incomplete
	// and hold the horizon back.
	events := make([]syscall.EpollEvent, 8192)
	var hdr Header
	for {
		select {
		case <-stop:
			return
		default:
		}
		// Whatever reached a socket before this instant is reported by this epoll_wait (or
		// the next, when more sockets are ready than events has room for).
		before := time.Now()
		// A timeout so stop is noticed; packets never wait for it.
		n, err := syscall.EpollWait(p.epfd, events, 100)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		if n <= 0 {
			p.setHorizon(time.Now()) // nothing arrived during the whole wait
			continue
		}
		now := time.Now()
		p.mu.RLock()
		for _, ev := range events[:n] {
			if s := p.socks[ev.Fd]; s != nil {
				s.drain(p, &hdr, now)
			}
		}
		p.mu.RUnlock()
		if n < len(events) {
			p.setHorizon(before)
		}
	}
}

// drain reads every datagram waiting on the socket, a batch per recvmmsg, until fewer than a
// batch came: afterwards nothing that reached the socket before the pass began is left in
// it, which is what the horizon promises. A socket's errors (ICMP answers to our sends, one
// per call, ahead of any data) are skipped; a bound on the calls keeps one socket that never
// empties from holding the pass (and so every recording's horizon) for ever. recvmmsg on a
// non-blocking socket never blocks, so it skips the scheduler's syscall bookkeeping
// (RawSyscall).
func (s *Socket) drain(p *Poller, hdr *Header, now time.Time) {
	for call := 0; call < 64; call++ {
		for i := range p.msgs {
			h := &p.msgs[i].hdr
			h.Namelen = syscall.SizeofSockaddrAny
			h.SetControllen(ctrlSize)
			h.Flags = 0
		}
		r, _, errno := syscall.RawSyscall6(syscall.SYS_RECVMMSG, uintptr(s.fd),
			uintptr(unsafe.Pointer(&p.msgs[0])), batch, syscall.MSG_DONTWAIT, 0, 0)
		if errno == syscall.EAGAIN {
			return
		}
		if errno != 0 {
			if errno != syscall.EINTR {
				s.RxErrors++
			}
			continue
		}
		m := int(r)
		wall := now.UnixNano()
		for i := 0; i < m; i++ {
			h := &p.msgs[i].hdr
			at := now
			ts, drops := control(p.ctrl[i][:h.Controllen])
			if ts > 0 && ts < wall {
				// The kernel's receive time, on the monotonic clock of now.
				at = now.Add(-time.Duration(wall - ts))
			}
			s.noteDrops(drops)
			s.deliver(p.bufs[i][:p.msgs[i].n], sockaddr(&p.names[i]), hdr, at)
		}
		if m < batch {
			return
		}
	}
}

// soRxqOvfl is SO_RXQ_OVFL (Linux), which the syscall package does not name.
const soRxqOvfl = 40

// control finds, in a datagram's control messages, the SCM_TIMESTAMPNS receive time (Unix
// nanoseconds; 0: none) and the SO_RXQ_OVFL count of datagrams the kernel dropped on that
// socket so far because its buffer was full (-1: none).
func control(b []byte) (ts int64, drops int64) {
	const hdrLen = int(unsafe.Sizeof(syscall.Cmsghdr{}))
	drops = -1
	for len(b) >= hdrLen {
		c := (*syscall.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(c.Len)
		if l < hdrLen || l > len(b) {
			break
		}
		switch {
		case c.Level == syscall.SOL_SOCKET && c.Type == syscall.SCM_TIMESTAMPNS && l >= hdrLen+16:
			ts = (*syscall.Timespec)(unsafe.Pointer(&b[hdrLen])).Nano()
		case c.Level == syscall.SOL_SOCKET && c.Type == soRxqOvfl && l >= hdrLen+4:
			drops = int64(*(*uint32)(unsafe.Pointer(&b[hdrLen])))
		}
		l = (l + 7) &^ 7
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	return ts, drops
}

// enableTimestamps asks the kernel to stamp each datagram with its receive time, and to
// say how many it dropped for want of buffer space (packets the readers lost by being slow).
func enableTimestamps(fd int) error {
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soRxqOvfl, 1)
	return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
}

// sendto sends without blocking and without the scheduler's syscall bookkeeping; a full
// socket buffer drops the packet, as a lost frame must never stall a call.
func sendto(fd int, b []byte, to netip.AddrPort) {
	if len(b) == 0 {
		return
	}
	sa := syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: to.Addr().As4()}
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port[0], port[1] = byte(to.Port()>>8), byte(to.Port())
	_, _, _ = syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sa)), syscall.SizeofSockaddrInet4)
}

func sockaddr(rsa *syscall.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa))
		port := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(port[0])<<8|uint16(port[1]))
	case syscall.AF_INET6:
		sa := (*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa))
		port := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(port[0])<<8|uint16(port[1]))
	}
	return netip.AddrPort{}
}
