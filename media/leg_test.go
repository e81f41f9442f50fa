package media

import (
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"callrec/media/audio"
	"callrec/media/recorder"
	"callrec/media/rtp"
)

// bridgedCall is a connected, recording call without SIP: both legs send to a UDP sink.
func bridgedCall(tb testing.TB, callerCodec, calleeCodec uint8) *call {
	tb.Helper()
	dir := tb.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		tb.Fatal(err)
	}
	ports, err := rtp.NewPorts(netip.MustParseAddr("127.0.0.1"), 34000, 34999)
	if err != nil {
		tb.Fatal(err)
	}
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	e := &Engine{log: slog.New(slog.DiscardHandler), ports: ports, clock: rtp.NewClock(0), root: root}
	c := &call{e: e, digits: make(chan digitEvent, 16), wake: make(chan struct{}, 1)}
	for ch, codec := range []uint8{callerCodec, calleeCodec} {
		l, err := c.newLeg(recorder.Channel(ch))
		if err != nil {
			tb.Fatal(err)
		}
		l.codec = codec
		l.dtmfPT, l.hasDTMF = 101, true
		l.sock.SetPeer(sink.LocalAddr().(*net.UDPAddr).AddrPort())
		l.src = srcRelay
	}
	now := time.Now()
	c.bridged = true
	c.info.Bridged = now
	c.route.Recording = Policy{Active: true, Stereo: true}
	c.rec, c.recPath, err = recorder.Create(root, "r", "test", recorder.Options{Stereo: true, Start: now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c.mu.Lock()
		c.closed = true
		_, _ = c.rec.Close(time.Now())
		c.mu.Unlock()
		for _, l := range c.legs {
			l.sock.Close()
		}
		sink.Close()
		root.Close()
	})
	return c
}

func packet(pt uint8, seq uint16, ts uint32, payload []byte) []byte {
	b := make([]byte, rtp.HeaderSize+len(payload))
	(&rtp.Header{PayloadType: pt, Seq: seq, Timestamp: ts, SSRC: 0x1234}).Put(b)
	copy(b[rtp.HeaderSize:], payload)
	return b
}

// BenchmarkPacket is the per-packet cost of a recorded, transcoded call: decode, record,
// transcode, re-stamp, send. The load issue budgets 1 ms CPU per call-second, i.e. 10 µs
// per packet at 2 x 50 packets/s.
func BenchmarkPacket(b *testing.B) {
	c := bridgedCall(b, rtp.PCMU, rtp.PCMA)
	l := c.legs[recorder.Caller]
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = byte(i)
	}
	var h rtp.Header
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h = rtp.Header{PayloadType: rtp.PCMU, Seq: uint16(i), Timestamp: uint32(i * 160), SSRC: 1}
		l.HandleRTP(&h, payload, netip.AddrPort{}, now.Add(time.Duration(i)*20*time.Millisecond))
		if i%5 == 0 {
			c.Tick(now.Add(time.Duration(i) * 20 * time.Millisecond))
		}
	}
}

func TestPacketPathAllocatesNothing(t *testing.T) {
	c := bridgedCall(t, rtp.PCMU, rtp.PCMA)
	l := c.legs[recorder.Caller]
	payload := make([]byte, 240) // 30 ms, as sipp sends
	now := time.Now()
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		h := rtp.Header{PayloadType: rtp.PCMU, Seq: uint16(i), Timestamp: uint32(i * 240), SSRC: 1}
		l.HandleRTP(&h, payload, netip.AddrPort{}, now.Add(time.Duration(i)*30*time.Millisecond))
		i++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet", allocs)
	}
}

func TestRFC4733DigitsFromReplayedPcaps(t *testing.T) {
	c := bridgedCall(t, rtp.PCMU, rtp.PCMU)
	l := c.legs[recorder.Callee]
	now := time.Now()
	// sip-tester's pcaps: one SSRC, '#' at ts 92640 then '1' at the older ts 13280; first
	// packet duration 0, end packet three times.
	send := func(ts uint32, code byte, at time.Time) {
		for i, d := range []uint16{0, 320, 640, 960} {
			end := byte(0x0a)
			if i == 3 {
				end |= 0x80
			}
			p := []byte{code, end, byte(d >> 8), byte(d)}
			n := 1
			if i == 3 {
				n = 3
			}
			for k := 0; k < n; k++ {
				var h rtp.Header
				payload, _ := rtp.Parse(packet(101, uint16(i), ts, p), &h)
				l.HandleRTP(&h, payload, netip.AddrPort{}, at.Add(time.Duration(i)*20*time.Millisecond))
			}
		}
	}
	send(92640, 11, now)
	send(13280, 1, now.Add(400*time.Millisecond))
	var got []byte
	for len(c.digits) > 0 {
		got = append(got, (<-c.digits).digit)
	}
	if string(got) != "#1" {
		t.Fatalf("digits %q, want \"#1\"", got)
	}
}

func TestGeneratorPacesByFramesDue(t *testing.T) {
	c := bridgedCall(t, rtp.PCMU, rtp.PCMU)
	l := c.legs[recorder.Caller]
	start := time.Now()
	c.mu.Lock()
	l.play(make([]int16, 8000), false, start) // 1 s prompt = 50 frames
	c.mu.Unlock()
	// Irregular ticks, one of them 70 ms late: the count follows the clock, not the ticks.
	for _, at := range []time.Duration{0, 20, 40, 130, 140, 160} {
		c.Tick(start.Add(at * time.Millisecond))
	}
	if l.gen.sent != 9 || l.tx != 9 {
		t.Fatalf("sent %d frames (%d packets) by 160 ms, want 9", l.gen.sent, l.tx)
	}
	c.Tick(start.Add(5 * time.Second)) // a stall: at most maxBurst frames, then the prompt ends
	if l.src != srcNone || l.tx > 9+maxBurst {
		t.Fatalf("after the prompt: src %d, %d packets", l.src, l.tx)
	}
}

func TestRecordingName(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	r := Route{SubscriberID: "337826", StartNumber: "4971121843140", Destination: "4915258878874", Location: loc}
	at := time.Date(2026, 3, 1, 22, 59, 7, 0, time.UTC) // 23:59:07 in Berlin
	dir, base := recordingName(r, "", "49711218431431", at)
	if dir != "call_recording/337826/4971121843140" ||
		base != "rec_20260301_235907_337826_4971121843140__49711218431431_4915258878874" {
		t.Fatalf("%s / %s", dir, base)
	}
	r.SubscriberID = "../x"
	if dir, _ := recordingName(r, "1", "2", at); dir != "call_recording/---x/4971121843140" {
		t.Fatalf("path element leaked: %s", dir)
	}
}

func FuzzHandleRTP(f *testing.F) {
	f.Add(packet(0, 1, 160, make([]byte, 160)))
	f.Add(packet(8, 1, 160, make([]byte, 240)))
	f.Add(packet(101, 1, 160, []byte{11, 0x0a, 0, 0}))
	f.Add(packet(101, 1, 160, []byte{1, 0x8a, 3, 0x20}))
	f.Add([]byte{0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	c := bridgedCall(f, rtp.PCMA, rtp.PCMU)
	now := time.Now()
	f.Fuzz(func(t *testing.T, b []byte) {
		var h rtp.Header
		payload, err := rtp.Parse(b, &h)
		if err != nil {
			return
		}
		now = now.Add(20 * time.Millisecond)
		c.legs[h.SSRC&1].HandleRTP(&h, payload, netip.AddrPort{}, now)
		c.Tick(now)
		for len(c.digits) > 0 {
			<-c.digits
		}
	})
}

func TestInfoDigit(t *testing.T) {
	c := bridgedCall(t, rtp.PCMU, rtp.PCMU)
	c.infoDigit(recorder.Callee, "application/dtmf-relay", []byte("Signal=#\r\nDuration=160\r\n"))
	c.infoDigit(recorder.Callee, "text/plain", []byte("Signal=1"))
	if len(c.digits) != 1 {
		t.Fatalf("%d digits queued, want 1", len(c.digits))
	}
	if d := <-c.digits; d.digit != '#' || d.ch != recorder.Callee {
		t.Fatalf("%+v", d)
	}
}

// TestInbandDigitsWhenNoTelephoneEvent: a leg without telephone-event gets Goertzel detection.
func TestInbandDigitsWhenNoTelephoneEvent(t *testing.T) {
	c := bridgedCall(t, rtp.PCMA, rtp.PCMU)
	l := c.legs[recorder.Callee]
	l.hasDTMF = false
	c.listen[recorder.Callee] = true
	now := time.Now()
	ts := uint32(0)
	frame := func(lo, hi float64) {
		pcm := make([]int16, 160)
		for i := range pcm {
			x := float64(ts) + float64(i)
			pcm[i] = int16(6000*math.Sin(2*math.Pi*lo*x/8000) + 6000*math.Sin(2*math.Pi*hi*x/8000))
		}
		payload := make([]byte, 160)
		audio.ULawEncode(payload, pcm)
		h := rtp.Header{PayloadType: rtp.PCMU, Timestamp: ts, SSRC: 9}
		l.HandleRTP(&h, payload, netip.AddrPort{}, now.Add(time.Duration(ts)*time.Second/8000))
		ts += 160
	}
	for _, key := range [][2]float64{{941, 1477}, {697, 1209}} { // '#', '1'
		for i := 0; i < 5; i++ {
			frame(key[0], key[1])
		}
		for i := 0; i < 5; i++ {
			frame(0, 0)
		}
	}
	var got []byte
	for len(c.digits) > 0 {
		got = append(got, (<-c.digits).digit)
	}
	if string(got) != "#1" {
		t.Fatalf("digits %q", got)
	}
}
