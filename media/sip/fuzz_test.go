package sip

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"

	"callrec/media/dtmf"
)

// fuzzHandler is the engine's side of an INVITE as far as signalling goes: it reads
// everything the engine reads from a request, then turns the call down.
type fuzzHandler struct{}

func (fuzzHandler) HandleCall(_ context.Context, in *Inbound) {
	_ = in.Dialed()
	_ = in.Caller()
	_ = in.Transport()
	if m, err := in.Offer(); err == nil {
		if codec, err := Choose(m, 0); err == nil {
			_ = BuildSDP(Description{IP: netip.MustParseAddr("127.0.0.1"), Port: 4000, Codecs: []uint8{codec}, Ptime: 20, Dir: AnswerDir(m.Dir)})
		}
	}
	_ = in.Reject(404, "Not Found")
}

const fuzzKnownCallID = "known-call@fuzz"

// FuzzHandleRequest feeds one datagram to the user agent's request handling as sipgo's
// transport and transaction layers would hand it over: parsed by sipgo, refused when the
// transaction layer would refuse it, then dispatched to our INVITE (new and re-INVITE), ACK,
// BYE, INFO, CANCEL and OPTIONS handlers with a recording transaction. A dialog with Call-ID
// known-call@fuzz exists, so in-dialog requests reach the re-offer and INFO (DTMF) code.
func FuzzHandleRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(seedMessage(s))
	}
	// The torture messages of RFC 4475 and 5118, as they are on the wire.
	torture, err := filepath.Glob(filepath.Join("testdata", "torture", "*.dat"))
	if err != nil || len(torture) != 61 {
		f.Fatalf("torture corpus: %d files, %v", len(torture), err)
	}
	for _, name := range torture {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	u, err := Listen(Config{Addr: "127.0.0.1:0", Trunk: "127.0.0.1:5080"}, fuzzHandler{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { u.udp.Close(); u.tcp.Close(); u.ua.Close() })
	u.ctx = context.Background()
	known := newLeg(fuzzKnownCallID)
	known.OnInfo(func(ct string, body []byte) { _, _ = dtmf.ParseInfo(ct, body) })
	known.OnOffer(func(m Media) ([]byte, error) {
		codec, err := Choose(m, 0)
		if err != nil {
			return nil, err
		}
		return BuildSDP(Description{IP: netip.MustParseAddr("127.0.0.1"), Port: 4000, Codecs: []uint8{codec}, Ptime: 20, Dir: AnswerDir(m.Dir)}), nil
	})
	known.dialog = dialogState{localTag: "ours", remoteTag: "c3", inviteCSeq: 2, peers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	u.register(&known)

	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := gosip.ParseMessage(data)
		if err != nil {
			return // the transport answers it (or not) before any handler; the library tests that
		}
		req, ok := msg.(*gosip.Request)
		if !ok {
			return
		}
		req.SetTransport("UDP")
		req.SetSource("127.0.0.1:5099")
		req.SetDestination(u.addr.String())
		if code, _ := gosip.ValidateRequest(req); code != 0 {
			return // the transaction layer answers it before any handler
		}
		if _, err := gosip.ServerTxKeyMake(req); err != nil {
			return // the transaction layer drops it before any handler
		}
		tx := siptest.NewServerTxRecorder(req)
		defer tx.Terminate()
		known.dialog.mu.Lock()
		known.dialog.remoteCSeq = 1 // every input starts the known dialog afresh
		known.dialog.mu.Unlock()
		switch req.Method {
		case gosip.INVITE:
			// A final response other than 2xx waits for the ACK (or Timer H, 32 s): once it is
			// out, end the transaction as an ACK would.
			done := make(chan struct{})
			go func() { u.handle(req, tx); close(done) }()
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Microsecond) {
				select {
				case <-done:
				default:
					if !hasFinal(tx.Result()) {
						if time.Now().After(deadline) {
							t.Fatal("INVITE handling got stuck without a final response")
						}
						continue
					}
					tx.Terminate()
					<-done
				}
				break
			}
		default:
			u.handle(req, tx)
		}
		results := tx.Result()
		for _, res := range results {
			_ = res.String()
		}
		if req.IsAck() && len(results) > 0 {
			t.Fatalf("an ACK was answered with %d", results[0].StatusCode)
		}
		if u.Legs() != 1 {
			t.Fatalf("%d legs after the request, want only the known one", u.Legs())
		}
	})
}

func hasFinal(rs []*gosip.Response) bool {
	for _, r := range rs {
		if r.StatusCode >= 200 {
			return true
		}
	}
	return false
}

// seedMessage writes a seed with CRLF line ends and its true Content-Length, unless the seed
// lies about it on purpose (99999999).
func seedMessage(s string) []byte {
	head, body, _ := strings.Cut(s, "\n\n")
	body = strings.ReplaceAll(body, "\n", "\r\n")
	if !strings.Contains(head, "99999999") {
		lines := strings.Split(head, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "Content-Length:") {
				lines[i] = "Content-Length: " + strconv.Itoa(len(body))
			}
		}
		head = strings.Join(lines, "\n")
	}
	return []byte(strings.ReplaceAll(head, "\n", "\r\n") + "\r\n\r\n" + body)
}

var fuzzSeeds = []string{
	`INVITE sip:49711218431431@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-1-1
From: <sip:49711218431440@127.0.0.1:5099>;tag=a1
To: <sip:49711218431431@127.0.0.1:5060>
Call-ID: 1-fuzz@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:49711218431440@127.0.0.1:5099>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: 186

v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=ptime:30
`,
	`INVITE sip:+49711218431431@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-2
From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=b2
To: <sip:+49711218431431@127.0.0.1>
Call-ID: 2-fuzz
CSeq: 1 INVITE
Content-Length: 0

`,
	`INVITE sip:49711218431431@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-3
From: <sip:49711218431440@127.0.0.1>;tag=c3
To: <sip:49711218431431@127.0.0.1>;tag=ours
Call-ID: known-call@fuzz
CSeq: 2 INVITE
Content-Type: application/sdp
Content-Length: 120

v=0
o=- 1 2 IN IP4 0.0.0.0
s=-
c=IN IP4 0.0.0.0
t=0 0
m=audio 6000 RTP/AVP 8
a=rtpmap:8 PCMA/8000
a=sendonly
`,
	`INFO sip:callrec@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-4
From: <sip:49711218431440@127.0.0.1>;tag=c3
To: <sip:49711218431431@127.0.0.1>;tag=ours
Call-ID: known-call@fuzz
CSeq: 3 INFO
Content-Type: application/dtmf-relay
Content-Length: 24

Signal=#
Duration=160
`,
	`BYE sip:callrec@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-5
From: <sip:49711218431440@127.0.0.1>;tag=c3
To: <sip:49711218431431@127.0.0.1>;tag=ours
Call-ID: 5-fuzz
CSeq: 4 BYE
Content-Length: 0

`,
	`CANCEL sip:49711218431431@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-1-1
From: <sip:49711218431440@127.0.0.1:5099>;tag=a1
To: <sip:49711218431431@127.0.0.1:5060>
Call-ID: 1-fuzz@127.0.0.1
CSeq: 1 CANCEL
Content-Length: 0

`,
	`ACK sip:callrec@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-7
From: <sip:49711218431440@127.0.0.1>;tag=c3
To: <sip:49711218431431@127.0.0.1>;tag=ours
Call-ID: known-call@fuzz
CSeq: 2 ACK
Content-Length: 0

`,
	`OPTIONS sip:callrec@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-8
From: <sip:ping@127.0.0.1>;tag=d4
To: <sip:callrec@127.0.0.1>
Call-ID: 8-fuzz
CSeq: 1 OPTIONS
Content-Length: 0

`,
	`SUBSCRIBE sip:x@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-9
From: <sip:x@127.0.0.1>;tag=e5
To: <sip:x@127.0.0.1>
Call-ID: 9-fuzz
CSeq: 1 SUBSCRIBE
Content-Length: 99999999

`,
}
