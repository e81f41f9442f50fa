// Package sip is the engine's signalling: a sipgo user agent on UDP and TCP, inbound and
// outbound legs of a back-to-back call with their dialogs, and SDP offer/answer for G.711.
package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"callrec/media/rtp"
)

// Directions of a media stream (RFC 4566 6).
const (
	SendRecv = "sendrecv"
	SendOnly = "sendonly"
	RecvOnly = "recvonly"
	Inactive = "inactive"
)

var (
	ErrNoAudio       = errors.New("sip: sdp has no audio stream")
	ErrNoCommonCodec = errors.New("sip: no common codec (PCMU/PCMA)")
)

// Media is what the engine needs from a peer's SDP: where to send, which G.711 codecs in the
// peer's order of preference, the telephone-event payload type and the packet time.
type Media struct {
	Addr    netip.AddrPort
	Codecs  []uint8 // rtp.PCMU / rtp.PCMA, in the peer's order
	DTMF    uint8   // telephone-event payload type; valid when HasDTMF
	HasDTMF bool
	Ptime   int    // ms; 0 when the SDP names none
	Dir     string // SendRecv etc.

	// Secure is a profile of SRTP (RTP/SAVP, RTP/SAVPF): the peer sends and takes SRTP only.
	// Crypto are its usable SDES keys (an RTP/AVP offer with a=crypto lines is SRTP if we
	// want it, RTP otherwise: RFC 4568's best effort).
	Secure bool
	Crypto []Crypto
	// RTCPMux: the peer sends and takes RTCP on its RTP port (RFC 5761); RTCP otherwise goes
	// to RTCPPort (a=rtcp, RFC 3605, or the RTP port + 1).
	RTCPMux  bool
	RTCPPort int
	// Version is the o= line's session version: unchanged, a re-INVITE changes nothing (a
	// session refresh) and is not relayed.
	Version uint64
}

// ParseSDP reads the first audio stream of an SDP body.
func ParseSDP(body []byte) (Media, error) {
	var s sdp.SessionDescription
	if err := s.Unmarshal(body); err != nil {
		return Media{}, fmt.Errorf("sip: bad sdp: %w", err)
	}
	var md *sdp.MediaDescription
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media == "audio" {
			md = m
			break
		}
	}
	if md == nil {
		return Media{}, ErrNoAudio
	}
	m := Media{Dir: SendRecv, Version: s.Origin.SessionVersion}
	for _, p := range md.MediaName.Protos {
		if p == "SAVP" || p == "SAVPF" {
			m.Secure = true
		}
	}
	conn := s.ConnectionInformation
	if md.ConnectionInformation != nil {
		conn = md.ConnectionInformation
	}
	port := md.MediaName.Port.Value
	if conn != nil && conn.Address != nil && port > 0 && port < 65536 {
		host := conn.Address.Address
		if i := strings.IndexByte(host, '/'); i >= 0 {
			host = host[:i]
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			m.Addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))
		}
	}
	names := map[string]string{}
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap":
			pt, enc, ok := strings.Cut(a.Value, " ")
			if ok {
				names[pt] = strings.ToLower(strings.TrimSpace(enc))
			}
		case "ptime":
			if v, err := strconv.Atoi(strings.TrimSpace(a.Value)); err == nil && v >= 10 && v <= 60 {
				m.Ptime = v
			}
		case SendRecv, SendOnly, RecvOnly, Inactive:
			m.Dir = a.Key
		case "crypto":
			if c, ok := parseCrypto(a.Value); ok {
				m.Crypto = append(m.Crypto, c)
			}
		case "rtcp-mux":
			m.RTCPMux = true
		case "rtcp":
			if f := strings.Fields(a.Value); len(f) > 0 {
				if v, err := strconv.Atoi(f[0]); err == nil && v > 0 && v < 65536 {
					m.RTCPPort = v
				}
			}
		}
	}
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.Atoi(f)
		if err != nil || pt < 0 || pt > 127 {
			continue
		}
		enc := names[f]
		switch {
		case enc == "pcmu/8000" || enc == "pcmu/8000/1" || (enc == "" && pt == 0):
			m.Codecs = append(m.Codecs, rtp.PCMU)
		case enc == "pcma/8000" || enc == "pcma/8000/1" || (enc == "" && pt == 8):
			m.Codecs = append(m.Codecs, rtp.PCMA)
		case strings.HasPrefix(enc, "telephone-event/8000") && !m.HasDTMF:
			m.DTMF, m.HasDTMF = uint8(pt), true
		}
	}
	if m.RTCPPort == 0 && port > 0 && port < 65535 {
		m.RTCPPort = port + 1
	}
	// A connection address of 0.0.0.0 is the old way to put a call on hold (RFC 3264 8.4).
	if m.Addr.IsValid() && m.Addr.Addr().IsUnspecified() && m.Dir == SendRecv {
		m.Dir = Inactive
	}
	return m, nil
}

// Choose picks the codec for a leg: the first of the peer's codecs, unless the peer also
// offers prefer (the other leg's codec), which saves transcoding.
func Choose(m Media, prefer uint8) (uint8, error) {
	if len(m.Codecs) == 0 {
		return 0, ErrNoCommonCodec
	}
	for _, c := range m.Codecs {
		if c == prefer {
			return c, nil
		}
	}
	return m.Codecs[0], nil
}

// Answerdir is the direction we answer with: the mirror of the offer's.
func AnswerDir(offer string) string {
	switch offer {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	return SendRecv
}

// Description is our side of a session: what BuildSDP writes.
type Description struct {
	IP      netip.Addr
	Port    int
	Session uint64 // o= session id, constant for the dialog
	Version uint64 // o= version, +1 for each new offer/answer
	Codecs  []uint8
	DTMF    uint8 // telephone-event payload type; 0 means none (0 is PCMU, never telephone-event)
	Ptime   int
	Dir     string
	// Crypto, when set, is our SDES key: the profile is RTP/SAVP unless Best says the offer
	// was RTP/AVP with a=crypto (RFC 4568 best effort, answered in the offer's profile).
	Crypto     *Crypto
	BestEffort bool
	RTCPMux    bool
}

// BuildSDP writes d as an SDP body.
func BuildSDP(d Description) []byte {
	ipv := "IP4"
	if d.IP.Is6() && !d.IP.Is4In6() {
		ipv = "IP6"
	}
	ip := d.IP.Unmap().String()
	var b strings.Builder
	b.Grow(300)
	// "-" for user name and session name (RFC 4566 5.2, 5.3): nothing that names the software.
	fmt.Fprintf(&b, "v=0\r\no=- %d %d IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n", d.Session, d.Version, ipv, ip, ipv, ip)
	proto := "RTP/AVP"
	if d.Crypto != nil && !d.BestEffort {
		proto = "RTP/SAVP"
	}
	fmt.Fprintf(&b, "m=audio %d %s", d.Port, proto)
	for _, c := range d.Codecs {
		fmt.Fprintf(&b, " %d", c)
	}
	if d.DTMF != 0 {
		fmt.Fprintf(&b, " %d", d.DTMF)
	}
	b.WriteString("\r\n")
	for _, c := range d.Codecs {
		switch c {
		case rtp.PCMU:
			b.WriteString("a=rtpmap:0 PCMU/8000\r\n")
		case rtp.PCMA:
			b.WriteString("a=rtpmap:8 PCMA/8000\r\n")
		}
	}
	if d.DTMF != 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", d.DTMF, d.DTMF)
	}
	if d.Ptime > 0 {
		fmt.Fprintf(&b, "a=ptime:%d\r\n", d.Ptime)
	}
	dir := d.Dir
	if dir == "" {
		dir = SendRecv
	}
	b.WriteString("a=" + dir + "\r\n")
	if d.RTCPMux {
		b.WriteString("a=rtcp-mux\r\n")
	}
	if d.Crypto != nil {
		b.WriteString(d.Crypto.line())
	}
	return []byte(b.String())
}
