package media

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// outOfDialog is a request from c that opens no dialog (no To tag).
func outOfDialog(c *net.UDPConn, engine, method, extra, body string) string {
	a := c.LocalAddr().(*net.UDPAddr)
	return method + " sip:49711218431431@" + engine + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + a.String() + ";branch=z9hG4bK-trust-" + strings.ToLower(method) + randomID()[:6] + ";rport\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:49711218431440@" + a.IP.String() + ">;tag=t1\r\nTo: <sip:49711218431431@" + engine + ">\r\n" +
		"Call-ID: trust-" + randomID() + "\r\nCSeq: 1 " + method + "\r\nContact: <sip:49711218431440@" + a.String() + ">\r\n" +
		extra + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// TestOnlyTrustedPeersPlaceCalls: with --sip-trusted 127.0.0.1/32, INVITEs and requests outside
// a dialog from any other address get 403, also from the trunk's; the trunk's answers and
// in-dialog requests are taken all the same (its BYE ends the call).
func TestOnlyTrustedPeersPlaceCalls(t *testing.T) {
	testtool.Short(t)
	stranger := udpOn(t, "127.0.0.2")
	trusted := udpOn(t, "127.0.0.1")
	trunkPort := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, Policy{})}, trunkPort, func(c *Config) {
		c.Trunk = "127.0.0.3:" + strconv.Itoa(trunkPort)
		c.SIPTrusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	addr := e.SIPAddr()
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 7078 RTP/AVP 0\r\n"
	fromTrunk := udpOn(t, "127.0.0.3")
	for _, tc := range []struct {
		what string
		from *net.UDPConn
		msg  string
		want int
	}{
		{"INVITE from a stranger", stranger, outOfDialog(stranger, addr, "INVITE", "Content-Type: application/sdp\r\n", sdp), 403},
		{"OPTIONS from a stranger", stranger, outOfDialog(stranger, addr, "OPTIONS", "", ""), 403},
		{"REGISTER from a stranger", stranger, outOfDialog(stranger, addr, "REGISTER", "", ""), 403},
		{"MESSAGE from a stranger", stranger, outOfDialog(stranger, addr, "MESSAGE", "", ""), 403},
		{"CANCEL from a stranger", stranger, outOfDialog(stranger, addr, "CANCEL", "", ""), 403},
		{"BYE of no dialog from a stranger", stranger, strings.Replace(outOfDialog(stranger, addr, "BYE", "", ""), ">\r\nCall-ID", ">;tag=x\r\nCall-ID", 1), 481},
		{"INVITE from the trunk's address", fromTrunk, outOfDialog(fromTrunk, addr, "INVITE", "Content-Type: application/sdp\r\n", sdp), 403},
		{"OPTIONS from a trusted peer", trusted, outOfDialog(trusted, addr, "OPTIONS", "", ""), 200},
	} {
		if code := exchange(t, tc.from, addr, tc.msg, 2*time.Second); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.what, code, tc.want)
		}
	}
	if code := exchange(t, stranger, addr, outOfDialog(stranger, addr, "ACK", "", ""), 500*time.Millisecond); code != 0 {
		t.Errorf("an ACK from a stranger was answered with %d", code)
	}
	if n := len(e.Calls()); n != 0 {
		t.Fatalf("%d calls from strangers", n)
	}

	// A call from the trusted peer to the untrusted trunk, which answers and hangs up.
	callee := startSipp(t, "sipp_callee_bye.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "RING_MS": "100", "HOLD_MS": "1500"},
		"-i", "127.0.0.3", "-p", strconv.Itoa(trunkPort))
	time.Sleep(200 * time.Millisecond)
	caller := startSipp(t, "sipp_caller_byed.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "caller_440.ulaw"), "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", addr)
	if err := callee.wait(t, 30*time.Second); err != nil {
		t.Fatalf("the trunk's callee: %v", err)
	}
	if err := caller.wait(t, 30*time.Second); err != nil {
		t.Fatalf("the trusted caller got no BYE: %v", err)
	}
	if c := e.sink.wait(t, 10*time.Second); c.Outcome != OutcomeCompleted || c.Bridged.IsZero() {
		t.Fatalf("outcome %q bridged %v", c.Outcome, c.Bridged)
	}
	noLeaks(t, e)
}
