package media

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// Third parties who learned a call's Call-ID and tags (issue 15): their in-dialog requests get
// 481 and change nothing. The genuine caller is sipp; the spoofer writes raw UDP from another
// loopback address, 127.0.0.2.

// sipDialog is what a spoofer needs to know of a call.
type sipDialog struct{ callID, fromTag, toTag, engine string }

// dialogFromTrace waits for the engine's 200 OK in a sipp -trace_msg log and reads the dialog
// from it.
func dialogFromTrace(t *testing.T, trace string, engine string, d time.Duration) sipDialog {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(trace)
		ok := tracedMessage(string(b), "SIP/2.0 200 OK")
		if ok == "" || !strings.Contains(ok, "CSeq: 1 INVITE") {
			continue
		}
		tag := func(h string) string {
			_, v, _ := strings.Cut(header(ok, h), ";tag=")
			v, _, _ = strings.Cut(v, ";")
			return v
		}
		return sipDialog{callID: header(ok, "Call-ID"), fromTag: tag("From"), toTag: tag("To"), engine: engine}
	}
	t.Fatal("no 200 OK in the caller's trace")
	return sipDialog{}
}

// inDialogRequest is a request of the caller's dialog as the spoofer writes it.
func (d sipDialog) request(method string, cseq int, from *net.UDPConn, toTag, extra, body string) string {
	port := from.LocalAddr().(*net.UDPAddr).Port
	ip := from.LocalAddr().(*net.UDPAddr).IP
	return fmt.Sprintf("%s sip:49711218431431@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-spoof-%s-%d;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:49711218431440@127.0.0.1>;tag=%s\r\nTo: <sip:49711218431431@%s>;tag=%s\r\n"+
		"Call-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:49711218431440@%s:%d>\r\n%sContent-Length: %d\r\n\r\n%s",
		method, d.engine, ip, port, strings.ToLower(method), cseq, d.fromTag, d.engine, toTag, d.callID, cseq, method,
		ip, port, extra, len(body), body)
}

const starInfo = "Signal=*\r\nDuration=160\r\n"

func infoExtra() string { return "Content-Type: application/dtmf-relay\r\n" }

func udpOn(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("no %s on this machine: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends msg and returns the status code of the final response to it (0: none within
// d). Answers to earlier requests (a failed INVITE's are retransmitted until an ACK) are skipped.
func exchange(t *testing.T, c *net.UDPConn, to, msg string, d time.Duration) int {
	t.Helper()
	ua, _ := net.ResolveUDPAddr("udp", to)
	if _, err := c.WriteToUDP([]byte(msg), ua); err != nil {
		t.Fatal(err)
	}
	cseq, callID := header(msg, "CSeq"), header(msg, "Call-ID")
	buf := make([]byte, 65536)
	for deadline := time.Now().Add(d); ; {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return 0
		}
		res := string(buf[:n])
		if code := final(res); code != 0 && header(res, "CSeq") == cseq && header(res, "Call-ID") == callID {
			return code
		}
	}
}

func TestSpoofedInDialogRequestsChangeNothing(t *testing.T) {
	testtool.Short(t)
	spoofer := udpOn(t, "127.0.0.2")
	sameHost := udpOn(t, "127.0.0.1") // the caller's address, not its port
	for _, genuine := range []bool{false, true} {
		t.Run(map[bool]string{false: "spoofed", true: "from the peer"}[genuine], func(t *testing.T) {
			trunk := freePort(t)
			e := startEngine(t, memDir{"49711218431431": demoRoute(t, activePolicy(t, ModeAutomatic))}, trunk, func(c *Config) {
				c.ObjectionWindow = 3 * time.Second
			})
			callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
				"AUDIO": testdata(t, "callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"}, "-p", strconv.Itoa(trunk))
			time.Sleep(200 * time.Millisecond)
			trace := filepath.Join(t.TempDir(), "caller.log")
			byeCSeq := "2"
			if genuine {
				byeCSeq = "3" // after our INFO with CSeq 2
			}
			caller := startSipp(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
				"AUDIO": testdata(t, "caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "6000", "FROM": "49711218431440",
				"BYE_CSEQ": byeCSeq}, "-p", strconv.Itoa(freePort(t)), "-trace_msg", "-message_file", trace,
				"-s", "49711218431431", e.SIPAddr())
			d := dialogFromTrace(t, trace, e.SIPAddr(), 10*time.Second)
			addr := e.SIPAddr()

			if genuine {
				// Control: the same INFO from the caller's own address is the caller's '*'.
				if code := exchange(t, sameHost, addr, d.request("INFO", 2, sameHost, d.toTag, infoExtra(), starInfo), 2*time.Second); code != 200 {
					t.Fatalf("the caller's INFO got %d", code)
				}
			} else {
				for _, tc := range []struct {
					what string
					from *net.UDPConn
					msg  string
					want int
				}{
					{"INFO * from another address", spoofer, d.request("INFO", 2, spoofer, d.toTag, infoExtra(), starInfo), 481},
					{"BYE from another address", spoofer, d.request("BYE", 3, spoofer, d.toTag, "", ""), 481},
					{"re-INVITE (hold) from another address", spoofer, d.request("INVITE", 4, spoofer, d.toTag,
						"Content-Type: application/sdp\r\n", "v=0\r\no=- 1 2 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=sendonly\r\n"), 481},
					{"UPDATE from another address", spoofer, d.request("UPDATE", 5, spoofer, d.toTag, "", ""), 481},
					{"PRACK from another address", spoofer, d.request("PRACK", 6, spoofer, d.toTag, "", ""), 481},
					{"INFO * with the wrong To tag from the caller's host", sameHost, d.request("INFO", 7, sameHost, "not-the-tag", infoExtra(), starInfo), 481},
					{"INFO * from the caller's host with the INVITE's CSeq", sameHost, d.request("INFO", 1, sameHost, d.toTag, infoExtra(), starInfo), 500},
				} {
					if code := exchange(t, tc.from, addr, tc.msg, 2*time.Second); code != tc.want {
						t.Errorf("%s: %d, want %d", tc.what, code, tc.want)
					}
				}
				if code := exchange(t, spoofer, addr, d.request("ACK", 1, spoofer, d.toTag, "", ""), 500*time.Millisecond); code != 0 {
					t.Errorf("a spoofed ACK was answered with %d", code)
				}
			}

			if err := caller.wait(t, 30*time.Second); err != nil {
				t.Fatalf("sipp caller: %v", err)
			}
			if err := callee.wait(t, 20*time.Second); err != nil {
				t.Fatalf("sipp callee: %v", err)
			}
			c := e.sink.wait(t, 10*time.Second)
			switch {
			case genuine && (c.Outcome != OutcomeObjected || !hasEvent(c, EventStarPressed) || c.Recording != nil):
				t.Fatalf("the caller's own '*' did not count: outcome %q events %+v", c.Outcome, c.Events)
			case !genuine && (c.Outcome != OutcomeCompleted || hasEvent(c, EventStarPressed) || c.Recording == nil):
				t.Fatalf("the spoofer changed the call: outcome %q recording %v events %+v", c.Outcome, c.Recording != nil, c.Events)
			}
			noLeaks(t, e)
		})
	}
}
