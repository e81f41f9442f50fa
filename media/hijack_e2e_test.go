package media

import (
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callrec/internal/testtool"
	"callrec/media/audio"
)

// goertzel is the power of frequency hz in channel ch of interleaved 8 kHz samples.
func goertzel(pcm []int16, channels, ch int, hz float64) float64 {
	w := 2 * math.Pi * hz / 8000
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	n := 0
	for i := ch; i < len(pcm); i += channels {
		s := float64(pcm[i]) + coeff*s1 - s2
		s2, s1 = s1, s
		n++
	}
	if n == 0 {
		return 0
	}
	return (s1*s1 + s2*s2 - coeff*s1*s2) / float64(n)
}

// toneULaw is n 20 ms PCMU frames of a hz tone.
func toneULaw(hz float64, n int) [][]byte {
	frames := make([][]byte, n)
	pcm := make([]int16, 160)
	for k := range frames {
		for i := range pcm {
			pcm[i] = int16(10000 * math.Sin(2*math.Pi*hz*float64(k*160+i)/8000))
		}
		frames[k] = make([]byte, 160)
		audio.ULawEncode(frames[k], pcm)
	}
	return frames
}

// sprayer is an attacker on another loopback host that sends RTP with its own tone to every
// even port of a range, over and over, and counts whatever comes back.
type sprayer struct {
	conn     *net.UDPConn
	received atomic.Int64
	sent     atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startSprayer(t *testing.T, host net.IP, lo, hi int, hz float64) *sprayer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: host})
	if err != nil {
		if testtool.E2E() {
			t.Fatalf("cannot bind %v (loopback /8 not routed here?): %v", host, err)
		}
		t.Skipf("cannot bind %v (loopback /8 not routed here?): %v", host, err)
	}
	s := &sprayer{conn: conn, stop: make(chan struct{})}
	frames := toneULaw(hz, 50)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 2048)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, _, err := conn.ReadFromUDP(buf)
			if n > 0 {
				s.received.Add(1)
			}
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				select {
				case <-s.stop:
					return
				default:
				}
			}
			select {
			case <-s.stop:
				return
			default:
			}
		}
	}()
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for k := 0; ; k++ {
			for port := lo; port <= hi; port += 2 {
				// A plausible stream per port: its own SSRC, running sequence and timestamp.
				pkt := rtpPacket(uint16(k), uint32(k*160), 0xbad00000+uint32(port), frames[k%len(frames)])
				if _, err := conn.WriteToUDP(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err == nil {
					s.sent.Add(1)
				}
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *sprayer) close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	s.wg.Wait()
	s.conn.Close()
}

// TestRTPHijackSprayGetsNothing is the "RTP bleed" attack: during a recorded sipp call a host
// on another address (127.0.0.2) sprays every port of the engine's RTP range with RTP of its
// own 2600 Hz tone, from before the call until after it. It must receive nothing, its packets
// must be dropped and counted, and its tone must not be in the recording (Goertzel: the
// callers' 440 and 1000 Hz are there, 2600 Hz is not).
func TestRTPHijackSprayGetsNothing(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	trunk := freePort(t)
	lo := freeRange(t, 100)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, noticeOffPolicy(t))}, trunk, func(c *Config) {
		c.RTPPorts = [2]int{lo, lo + 99}
	})
	attacker := startSprayer(t, net.IPv4(127, 0, 0, 2), lo, lo+99, 2600)
	time.Sleep(300 * time.Millisecond) // spraying before the call: the learning window too
	cerr, ferr := runCall(t, e, trunk, callSpec{from: "49711218431440", dialed: "49711218431431",
		callerCodec: "PCMU", calleeCodec: "PCMU", holdMS: 5000, ringMS: 100})
	if cerr != nil || ferr != nil {
		t.Fatalf("the call broke under the spray: caller %v callee %v", cerr, ferr)
	}
	c := e.sink.wait(t, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	attacker.close()
	t.Logf("attacker sent %d packets, received %d; engine dropped %v foreign packets (caller, callee leg)",
		attacker.sent.Load(), attacker.received.Load(), c.RTPForeign)
	if n := attacker.received.Load(); n != 0 {
		t.Errorf("the attacker received %d packets of the call", n)
	}
	if c.RTPForeign[0] == 0 || c.RTPForeign[1] == 0 {
		t.Errorf("foreign packets dropped per leg %v: the spray did not reach both legs' ports, or was not counted", c.RTPForeign)
	}
	if c.Recording == nil {
		t.Fatal("no recording")
	}
	ch, pcm := wavPCM(t, filepath.Join(e.data, filepath.FromSlash(c.Recording.Path)))
	if ch != 2 {
		t.Fatalf("%d channels", ch)
	}
	for i, want := range []float64{440, 1000} {
		legit, bad := goertzel(pcm, 2, i, want), goertzel(pcm, 2, i, 2600)
		t.Logf("channel %d: %v Hz power %.3g, attacker's 2600 Hz %.3g", i, want, legit, bad)
		if legit < 1e6 {
			t.Errorf("channel %d: the caller's own %v Hz is missing (power %.3g)", i, want, legit)
		}
		if bad > legit/1000 {
			t.Errorf("channel %d: the attacker's tone is in the recording (%.3g vs %.3g)", i, bad, legit)
		}
	}
	noLeaks(t, e)
}

// TestNATedCallerFromAnotherPortStillWorks: a caller behind NAT whose SDP names one port but
// whose RTP leaves from another (the NAT rewrote it). The leg latches to that source within
// the learning window: the caller is heard in the recording and hears the callee there.
func TestNATedCallerFromAnotherPortStillWorks(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, noticeOffPolicy(t))}, trunk, nil)
	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	u := newRawUA(t, e.SIPAddr())
	nat, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) // the NAT's port
	if err != nil {
		t.Fatal(err)
	}
	defer nat.Close()
	if code := u.call("49711218431431"); code != 200 {
		t.Fatalf("INVITE: %d", code)
	}
	var heard atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := nat.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n > 12 {
				heard.Add(1)
			}
		}
	}()
	frames := toneULaw(440, 50)
	start := time.Now()
	for k := 0; k < 300; k++ { // 6 s, paced by the frames due
		time.Sleep(time.Until(start.Add(time.Duration(k) * 20 * time.Millisecond)))
		if _, err := nat.WriteToUDP(rtpPacket(uint16(k), uint32(k*160), 0x4a7, frames[k%50]), u.engineRTP); err != nil {
			t.Fatal(err)
		}
	}
	if code := u.bye("49711218431431"); code != 200 {
		t.Fatalf("BYE: %d", code)
	}
	c := e.sink.wait(t, 10*time.Second)
	_ = callee.wait(t, 10*time.Second)
	t.Logf("caller leg: %d packets in, %d out; the NATed port heard %d; foreign %v", c.PacketsIn[0], c.PacketsOut[0], heard.Load(), c.RTPForeign)
	if c.PacketsIn[0] < 250 {
		t.Errorf("the engine took %d of the caller's 300 packets", c.PacketsIn[0])
	}
	if heard.Load() < 100 {
		t.Errorf("the caller's NATed port heard %d packets: the leg did not latch to it", heard.Load())
	}
	if c.Recording == nil {
		t.Fatal("no recording")
	}
	ch, pcm := wavPCM(t, filepath.Join(e.data, filepath.FromSlash(c.Recording.Path)))
	if p := goertzel(pcm, ch, 0, 440); p < 1e6 {
		t.Errorf("the caller's tone is not in the recording (power %.3g)", p)
	}
}
