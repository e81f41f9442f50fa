//go:build !linux

package rtp

import (
	"errors"
	"net/netip"
	"time"
)

// Poller is epoll-based and Linux-only; elsewhere sockets are read by Serve.
type Poller struct{}

// NewPoller fails off Linux; callers fall back to Socket.Serve.
func NewPoller() (*Poller, error) { return nil, errors.New("rtp: poller needs Linux") }

// Add is never reached off Linux.
func (p *Poller) Add(s *Socket, h Handler) error { return errors.New("rtp: poller needs Linux") }

// Run returns at once off Linux.
func (p *Poller) Run(stop <-chan struct{}) {}

func (p *Poller) remove(s *Socket) {}

// Len is always 0 off Linux.
func (p *Poller) Len() int { return 0 }

func sendto(fd int, b []byte, to netip.AddrPort) {}

// Horizon is the wall clock off Linux: Serve's readers give no guarantee.
func (p *Poller) Horizon() time.Time { return time.Now() }

func enableTimestamps(fd int) error { return errors.New("rtp: no receive timestamps") }

func control(b []byte) (ts int64, drops int64) { return 0, -1 }
