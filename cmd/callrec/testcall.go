package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strings"
	"time"

	"callrec/media/audio"
	"callrec/media/sip"
	"callrec/models"
)

// testcall handles "callrec testcall": one call through the running engine with a built-in
// caller and callee, both made of the engine's own SIP user agent (media/sip, on sipgo) and
// plain RTP, so a first recording appears without any other tool. The caller dials a pool
// number at the engine's SIP address; the callee answers at the trunk address, where the
// engine sends the destination leg. Each side plays a tone (caller 440 Hz, callee 660 Hz) and
// the caller hangs up after --seconds.
func testcall(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("testcall", flag.ContinueOnError)
	fs.SetOutput(stdout)
	engine := fs.String("sip", envOr(getenv, "CALLREC_SIP", "127.0.0.1:5060"), "the engine's SIP address (CALLREC_SIP)")
	trunk := fs.String("trunk", envOr(getenv, "CALLREC_TRUNK", "127.0.0.1:5080"), "where the engine sends destination legs: the callee answers here (CALLREC_TRUNK)")
	to := fs.String("to", "49711218431431", "the dialed number: one of a pool's numbers (the demo pool's by default)")
	from := fs.String("from", "49711218431440", "the caller's number")
	secs := fs.Float64("seconds", 15, "how long the call lasts after the callee answered (it first hears its notice, some 6 s)")
	open := storeFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Say what is missing before dialing: a call to a pool without Call Recording records nothing.
	if store, err := open(); err == nil {
		err := recordable(ctx, store, *to)
		store.Close()
		if err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(*secs*float64(time.Second))+90*time.Second)
	defer cancel()

	callee, err := newToneSide(660)
	if err != nil {
		return err
	}
	defer callee.close()
	answered := make(chan struct{}, 1)
	calleeUA, err := sip.Listen(sip.Config{Addr: *trunk}, calleeHandler{side: callee, answered: answered, ctx: ctx})
	if err != nil {
		return fmt.Errorf("the test callee cannot listen at the trunk address %s (is another test call running?): %w", *trunk, err)
	}
	go calleeUA.Serve(ctx)

	caller, err := newToneSide(440)
	if err != nil {
		return err
	}
	defer caller.close()
	callerUA, err := sip.Listen(sip.Config{Addr: "127.0.0.1:0", Trunk: *engine}, nil)
	if err != nil {
		return err
	}
	go callerUA.Serve(ctx)
	fmt.Fprintf(stdout, "Calling %s from %s through the engine at %s; the test callee answers at %s.\n", *to, *from, *engine, *trunk)
	// Dial once the user agent serves its UDP socket (before that, the client would try to bind
	// the port a second time).
	var out *sip.Outbound
	for i := 0; ; i++ {
		if out, err = callerUA.Dial(ctx, *to, sip.DialOptions{From: *from, Offer: caller.offer()}); err == nil || i == 40 || !strings.Contains(err.Error(), "bind") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer out.Close()
	sdp, code, err := out.Wait(ctx, nil, nil) // our offer went in the INVITE: no offer to answer
	if err != nil {
		if code != 0 {
			return fmt.Errorf("the engine refused the call: SIP %d (is %s one of a pool's numbers?)", code, *to)
		}
		return fmt.Errorf("no answer from the engine at %s (is callrec running?): %w", *engine, err)
	}
	if err := caller.start(ctx, sdp); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "The engine answered; the caller hears the announcement.")
	select {
	case <-answered:
		fmt.Fprintf(stdout, "The test callee answered; talking for %.0f s.\n", *secs)
	case <-out.Done():
		return errors.New("the engine hung up before the destination answered")
	case <-ctx.Done():
		return errors.New("the destination leg never reached the test callee: is --trunk the engine's trunk?")
	}
	select {
	case <-time.After(time.Duration(*secs * float64(time.Second))):
	case <-out.Done():
		return errors.New("the engine hung up during the call")
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := out.Hangup(ctx); err != nil {
		return fmt.Errorf("hanging up: %w", err)
	}
	fmt.Fprintln(stdout, "Hung up. The recording is in the File Browser (Dateien > call_recording) once the engine has stored it.")
	return nil
}

// recordable is an error that says what to do when calls to number would not be recorded.
func recordable(ctx context.Context, store *models.Store, number string) error {
	p, err := store.PoolByNumber(ctx, number)
	if errors.Is(err, models.ErrNotFound) {
		return fmt.Errorf("%s is no pool's number: pass one with --to (make demo creates 49711218431431)", number)
	}
	if err != nil {
		return err
	}
	pol, err := store.RecordingPolicy(ctx, p.ID)
	if err != nil {
		return err
	}
	if !pol.Active {
		return fmt.Errorf("Call Recording is not booked and switched on for pool %q: book it on the pool's page in the Control Panel, then call again", p.Name)
	}
	return nil
}

// calleeHandler answers the destination leg the engine sends to the trunk and plays its tone
// until the engine hangs up.
type calleeHandler struct {
	side     *toneSide
	answered chan struct{}
	ctx      context.Context
}

func (h calleeHandler) HandleCall(ctx context.Context, in *sip.Inbound) {
	offer, err := in.Offer()
	if err != nil {
		_ = in.Reject(488, "Not Acceptable Here")
		return
	}
	if err := in.Answer(h.side.answerTo(offer)); err != nil {
		return
	}
	if err := h.side.startTo(h.ctx, offer.Addr); err != nil {
		return
	}
	select {
	case h.answered <- struct{}{}:
	default:
	}
	select {
	case <-in.Done():
	case <-h.ctx.Done():
	}
}

// toneSide is one side's RTP: a socket and a tone sent as PCMU every 20 ms.
type toneSide struct {
	conn *net.UDPConn
	hz   float64
	stop chan struct{}
}

func newToneSide(hz float64) (*toneSide, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	go func() { // read and drop what the engine sends (the announcement, the other side)
		b := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFromUDP(b); err != nil {
				return
			}
		}
	}()
	return &toneSide{conn: c, hz: hz, stop: make(chan struct{})}, nil
}

func (s *toneSide) addr() netip.AddrPort { return s.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (s *toneSide) desc() sip.Description {
	a := s.addr()
	return sip.Description{IP: a.Addr(), Port: int(a.Port()), Session: uint64(time.Now().UnixNano()), Version: 1,
		Codecs: []uint8{0}, Ptime: 20, Dir: "sendrecv"}
}

func (s *toneSide) offer() []byte { return sip.BuildSDP(s.desc()) }

func (s *toneSide) answerTo(sip.Media) []byte { return sip.BuildSDP(s.desc()) }

// start sends the tone to the address in an SDP answer.
func (s *toneSide) start(ctx context.Context, sdp []byte) error {
	m, err := sip.ParseSDP(sdp)
	if err != nil {
		return fmt.Errorf("the engine's SDP: %w", err)
	}
	return s.startTo(ctx, m.Addr)
}

func (s *toneSide) startTo(ctx context.Context, to netip.AddrPort) error {
	if !to.IsValid() {
		return errors.New("no media address in the SDP")
	}
	go s.send(ctx, net.UDPAddrFromAddrPort(to))
	return nil
}

// send writes 20 ms PCMU packets, paced by how many are due since the start (a ticker drops
// ticks under load).
func (s *toneSide) send(ctx context.Context, to *net.UDPAddr) {
	const n = 160
	pcm := make([]int16, n)
	pkt := make([]byte, 12+n)
	ssrc := uint32(time.Now().UnixNano())
	start := time.Now()
	for i := 0; ; i++ {
		for j := range pcm {
			t := float64(i*n+j) / 8000
			pcm[j] = int16(6000 * math.Sin(2*math.Pi*s.hz*t))
		}
		pkt[0], pkt[1] = 0x80, 0 // version 2, PCMU
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*n))
		binary.BigEndian.PutUint32(pkt[8:], ssrc)
		audio.ULawEncode(pkt[12:], pcm)
		if _, err := s.conn.WriteToUDP(pkt, to); err != nil {
			return
		}
		due := start.Add(time.Duration(i+1) * 20 * time.Millisecond)
		select {
		case <-time.After(time.Until(due)):
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		}
	}
}

func (s *toneSide) close() {
	close(s.stop)
	s.conn.Close()
}
