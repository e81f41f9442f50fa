package sip

import (
	"net/netip"
	"testing"

	"callrec/media/rtp"
)

const sippOffer = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 6000 RTP/AVP 8 0 96\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\na=ptime:30\r\n"

func TestParseSDP(t *testing.T) {
	m, err := ParseSDP([]byte(sippOffer))
	if err != nil {
		t.Fatal(err)
	}
	if m.Addr != netip.MustParseAddrPort("127.0.0.1:6000") || len(m.Codecs) != 2 || m.Codecs[0] != rtp.PCMA ||
		!m.HasDTMF || m.DTMF != 96 || m.Ptime != 30 || m.Dir != SendRecv {
		t.Fatalf("%+v", m)
	}
	c, err := Choose(m, rtp.PCMU)
	if err != nil || c != rtp.PCMU {
		t.Fatalf("choose %d %v", c, err)
	}
	c, _ = Choose(Media{Codecs: []uint8{rtp.PCMA}}, rtp.PCMU)
	if c != rtp.PCMA {
		t.Fatal("must fall back to the peer's codec")
	}
}

func TestParseSDPHoldAndStatic(t *testing.T) {
	body := "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\nc=IN IP4 0.0.0.0\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n"
	m, err := ParseSDP([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if m.Dir != Inactive || len(m.Codecs) != 1 || m.Codecs[0] != rtp.PCMU || m.DTMF != 101 {
		t.Fatalf("%+v", m)
	}
	if _, err := ParseSDP([]byte("v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=video 5 RTP/AVP 96\r\n")); err != ErrNoAudio {
		t.Fatalf("video only: %v", err)
	}
	m, _ = ParseSDP([]byte("v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5 RTP/AVP 18 9\r\n"))
	if _, err := Choose(m, rtp.PCMU); err != ErrNoCommonCodec {
		t.Fatalf("no G.711: %v", err)
	}
}

func TestBuildSDPParsesBack(t *testing.T) {
	b := BuildSDP(Description{IP: netip.MustParseAddr("10.1.2.3"), Port: 20000, Session: 9, Version: 1,
		Codecs: []uint8{rtp.PCMU, rtp.PCMA}, DTMF: 101, Ptime: 20, Dir: RecvOnly})
	m, err := ParseSDP(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if m.Addr != netip.MustParseAddrPort("10.1.2.3:20000") || len(m.Codecs) != 2 || m.DTMF != 101 || m.Ptime != 20 || m.Dir != RecvOnly {
		t.Fatalf("%+v\n%s", m, b)
	}
	if AnswerDir(SendOnly) != RecvOnly || AnswerDir(Inactive) != Inactive || AnswerDir("") != SendRecv {
		t.Fatal("answer direction")
	}
}

func TestCallerNumber(t *testing.T) {
	for in, want := range map[string]string{
		"49711218431440": "49711218431440", "+4930123": "4930123", "anonymous": "", "": "", "Anonymous": "",
		"alice": "", "12a": "",
	} {
		if got := CallerNumber(in); got != want {
			t.Errorf("%q: %q want %q", in, got, want)
		}
	}
}

func FuzzParseSDP(f *testing.F) {
	f.Add([]byte(sippOffer))
	f.Add([]byte("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Add([]byte("v=0\r\no=- 1 2 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 65535 RTP/AVP 8\r\na=ptime:60\r\na=sendonly\r\n"))
	f.Add([]byte("v=0\r\nm=audio 0 RTP/AVP\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSDP(b)
		if err != nil {
			return
		}
		if m.Ptime != 0 && (m.Ptime < 10 || m.Ptime > 60) {
			t.Fatalf("ptime %d out of range", m.Ptime)
		}
		for _, c := range m.Codecs {
			if c != rtp.PCMU && c != rtp.PCMA {
				t.Fatalf("codec %d", c)
			}
		}
		codec, err := Choose(m, rtp.PCMU)
		if err != nil {
			return
		}
		ans := BuildSDP(Description{IP: netip.MustParseAddr("127.0.0.1"), Port: 20000, Codecs: []uint8{codec}, DTMF: m.DTMF, Dir: AnswerDir(m.Dir)})
		if _, err := ParseSDP(ans); err != nil {
			t.Fatalf("our answer does not parse: %v\n%s", err, ans)
		}
	})
}
