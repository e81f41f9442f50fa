package rtp

import (
	"errors"
	"net/netip"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

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
}

// NewPoller creates the epoll instance; Run serves it.
func NewPoller() (*Poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &Poller{epfd: fd, socks: map[int32]*Socket{}}, nil
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
	events := make([]syscall.EpollEvent, 256)
	var buf [MaxPacket]byte
	var hdr Header
	for {
		select {
		case <-stop:
			return
		default:
		}
		// A timeout so stop is noticed; packets never wait for it.
		n, err := syscall.EpollWait(p.epfd, events, 100)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		if n <= 0 {
			continue
		}
		now := time.Now()
		p.mu.RLock()
		for _, ev := range events[:n] {
			if s := p.socks[ev.Fd]; s != nil {
				s.drain(buf[:], &hdr, now)
			}
		}
		p.mu.RUnlock()
	}
}

// drain reads one waiting packet. epoll is level-triggered and reports the socket again if
// more are queued, so no read is spent on EAGAIN. recvfrom on a non-blocking socket never
// blocks, so it skips the scheduler's syscall bookkeeping (RawSyscall).
func (s *Socket) drain(buf []byte, hdr *Header, now time.Time) {
	var rsa syscall.RawSockaddrAny
	alen := uint32(syscall.SizeofSockaddrAny)
	r, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(s.fd),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), syscall.MSG_DONTWAIT,
		uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&alen)))
	if errno != 0 {
		if errno != syscall.EAGAIN && errno != syscall.EINTR {
			s.RxErrors++ // ICMP errors of an earlier send surface here
		}
		return
	}
	s.deliver(buf[:int(r)], sockaddr(&rsa), hdr, now)
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
