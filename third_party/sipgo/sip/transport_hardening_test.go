package sip

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// udpPeer is a raw UDP socket standing for a remote SIP element.
type udpPeer struct {
	t    *testing.T
	conn *net.UDPConn
}

func newUDPPeer(t *testing.T) *udpPeer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &udpPeer{t: t, conn: c}
}

func (p *udpPeer) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

func (p *udpPeer) recv(d time.Duration) string {
	buf := make([]byte, 70000)
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	n, _, err := p.conn.ReadFromUDP(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// serveUDP runs a transport and transaction layer on a loopback UDP port, handing requests
// that make it through to got.
func serveUDP(t *testing.T) (*TransportLayer, *net.UDPAddr, chan *Request) {
	tp := NewTransportLayer(net.DefaultResolver, NewParser(), nil)
	txl := NewTransactionLayer(tp)
	got := make(chan *Request, 10)
	txl.OnRequest(func(req *Request, tx *ServerTx) { got <- req })
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	go func() { _ = tp.ServeUDP(conn) }()
	t.Cleanup(func() { txl.Close(); tp.Close(); conn.Close() })
	return tp, conn.LocalAddr().(*net.UDPAddr), got
}

func rawRequest(method, via, extra string) string {
	return method + " sip:bob@example.com SIP/2.0\r\n" +
		"Via: " + via + "\r\n" +
		"From: <sip:alice@example.com>;tag=a1\r\n" +
		"To: <sip:bob@example.com>\r\n" +
		"Call-ID: hardening-1\r\n" +
		"CSeq: 1 " + method + "\r\n" + extra +
		"Content-Length: 0\r\n\r\n"
}

// RFC 3261 21.4.1 and RFC 4475 3.1.2: a request that does not parse is answered with 400 and
// the problem as reason phrase, to the source when the Via cannot be read; an ACK never is.
func TestUnparsableRequestGets400OverUDP(t *testing.T) {
	_, addr, got := serveUDP(t)
	peer := newUDPPeer(t)
	send := func(msg string) { _, err := peer.conn.WriteToUDP([]byte(msg), addr); require.NoError(t, err) }

	send(rawRequest("OPTIONS", "SIP/2.0/UDP 127.0.0.1:1;;,;,,", ""))
	res := peer.recv(2 * time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 400 Malformed Via header field\r\n"), res)
	assert.Contains(t, res, "Via: SIP/2.0/UDP 127.0.0.1:1;;,;,,\r\n")
	assert.Contains(t, res, "Call-ID: hardening-1\r\n")
	assert.Contains(t, res, "CSeq: 1 OPTIONS\r\n")
	assert.Regexp(t, `To: <sip:bob@example.com>;tag=\S+`, res)

	send(strings.Replace(rawRequest("OPTIONS", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK2;rport", ""), "OPTIONS sip:bob@example.com", "OPTIONS  sip:bob@example.com", 1))
	res = peer.recv(2 * time.Second)
	require.True(t, strings.HasPrefix(res, "SIP/2.0 400 Malformed Request-Line\r\n"), res)
	assert.Contains(t, res, ";rport="+strconv.Itoa(peer.port()))

	send(rawRequest("ACK", "SIP/2.0/UDP 127.0.0.1:1;;,;,,", ""))
	send(strings.Replace(rawRequest("ACK", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK3;rport", ""), "CSeq: 1 ACK\r\n", "", 1))
	assert.Equal(t, "", peer.recv(500*time.Millisecond), "an ACK is never answered")
	select {
	case r := <-got:
		t.Fatalf("malformed request reached the handler: %s", r.StartLine())
	default:
	}
}

// RFC 3261 8.1.1, 8.2, 16.3: version, mandatory and single-valued headers and the CSeq method
// are checked before a transaction exists, and answered statelessly.
func TestInvalidRequestsAnsweredStatelessly(t *testing.T) {
	_, addr, got := serveUDP(t)
	for _, tc := range []struct {
		msg, want string
	}{
		{strings.Replace(rawRequest("OPTIONS", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-v;rport", ""), "SIP/2.0\r\n", "SIP/7.0\r\n", 1), "SIP/2.0 505 Version Not Supported"},
		{rawRequest("OPTIONS", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-c;rport", "Call-ID: second\r\n"), "SIP/2.0 400 Multiple Call-ID header fields"},
		{strings.Replace(rawRequest("OPTIONS", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-m;rport", ""), "CSeq: 1 OPTIONS", "CSeq: 1 INVITE", 1), "SIP/2.0 400 CSeq method does not match the request method"},
		{strings.Replace(rawRequest("INVITE", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-f;rport", ""), "From: <sip:alice@example.com>;tag=a1\r\n", "", 1), "SIP/2.0 400 Missing From header field"},
	} {
		peer := newUDPPeer(t)
		_, err := peer.conn.WriteToUDP([]byte(tc.msg), addr)
		require.NoError(t, err)
		res := peer.recv(2 * time.Second)
		assert.True(t, strings.HasPrefix(res, tc.want+"\r\n"), "want %q, got %q", tc.want, res)
		assert.Equal(t, "", peer.recv(300*time.Millisecond), "no retransmission: no transaction")
	}
	select {
	case r := <-got:
		t.Fatalf("invalid request reached the handler: %s", r.StartLine())
	default:
	}
}

// RFC 3261 18.2.2: a response goes back over UDP whatever its size; 18.1.1 limits requests.
func TestLargeResponseGoesOverUDP(t *testing.T) {
	tp, addr, got := serveUDP(t)
	peer := newUDPPeer(t)
	var vias strings.Builder
	for i := 0; i < 20; i++ {
		vias.WriteString("Via: SIP/2.0/UDP proxy" + strconv.Itoa(i) + ".example.com;branch=z9hG4bK-proxy-hop-" + strings.Repeat("x", 40) + "\r\n")
	}
	msg := rawRequest("OPTIONS", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-big;rport", vias.String())
	_, err := peer.conn.WriteToUDP([]byte(msg), addr)
	require.NoError(t, err)
	var req *Request
	select {
	case req = <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("request not delivered")
	}
	res := NewResponseFromRequest(req, 200, "OK", nil)
	require.Greater(t, len(res.String()), 1500)
	require.NoError(t, tp.WriteMsg(res))
	answer := peer.recv(2 * time.Second)
	assert.True(t, strings.HasPrefix(answer, "SIP/2.0 200 OK\r\n"), answer)
	assert.Equal(t, len(res.String()), len(answer))
}

// RFC 3261 18.1.1: a request over 1300 bytes goes over TCP when the destination takes TCP, and
// over UDP after all when it does not.
func TestOversizedRequestGoesOverTCP(t *testing.T) {
	tp := NewTransportLayer(net.DefaultResolver, NewParser(), nil)
	defer tp.Close()
	big := "X-Pad: " + strings.Repeat("p", 1500) + "\r\n"

	// A peer listening on UDP and TCP on one port.
	udp := newUDPPeer(t)
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(udp.port())))
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		b, _ := io.ReadAll(io.LimitReader(c, int64(len(big))+600))
		accepted <- string(b)
	}()
	req := NewRequest(OPTIONS, Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: udp.port()})
	req.AppendHeader(&ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5999, Params: HeaderParams{{"branch", GenerateBranch()}}})
	req.AppendHeader(NewHeader("X-Pad", strings.Repeat("p", 1500)))
	req.SetTransport("UDP")
	require.NoError(t, tp.WriteMsg(req))
	select {
	case got := <-accepted:
		assert.True(t, strings.HasPrefix(got, "OPTIONS sip:bob@127.0.0.1:"), got)
		assert.Contains(t, got, "Via: SIP/2.0/TCP 127.0.0.1:5999;")
	case <-time.After(4 * time.Second):
		t.Fatal("oversized request did not arrive over TCP")
	}
	assert.Equal(t, "", udp.recv(200*time.Millisecond), "nothing over UDP")

	// A peer with no TCP: the request goes over UDP.
	udpOnly := newUDPPeer(t)
	req = NewRequest(OPTIONS, Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: udpOnly.port()})
	req.AppendHeader(&ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5999, Params: HeaderParams{{"branch", GenerateBranch()}}})
	req.AppendHeader(NewHeader("X-Pad", strings.Repeat("p", 1500)))
	req.SetTransport("UDP")
	require.NoError(t, tp.WriteMsg(req))
	got := udpOnly.recv(3 * time.Second)
	assert.True(t, strings.HasPrefix(got, "OPTIONS sip:bob@"), got)
	assert.Contains(t, got, "Via: SIP/2.0/UDP 127.0.0.1:5999;")
}

func serveTCP(t *testing.T, tcp *TransportTCP) string {
	tp := NewTransportLayer(net.DefaultResolver, NewParser(), nil, WithTransportLayerTransports(TransportsConfig{TCP: tcp}))
	txl := NewTransactionLayer(tp)
	txl.OnRequest(func(req *Request, tx *ServerTx) {
		_ = tx.Respond(NewResponseFromRequest(req, 200, "OK", nil))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = tp.ServeTCP(ln) }()
	t.Cleanup(func() { txl.Close(); tp.Close(); ln.Close() })
	return ln.Addr().String()
}

// closedWithin reports whether the server closed c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return false
		}
		return true
	}
}

// A connection that sends nothing, or a message a byte at a time, is closed; one that is
// answered stays until it is idle.
func TestTCPIdleAndIncompleteConnectionsClose(t *testing.T) {
	addr := serveTCP(t, &TransportTCP{IdleTimeout: 600 * time.Millisecond, MessageTimeout: 400 * time.Millisecond})

	idle, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer idle.Close()
	assert.False(t, closedWithin(idle, 300*time.Millisecond), "closed before the idle timeout")
	assert.True(t, closedWithin(idle, 2*time.Second), "idle connection not closed")

	slow, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer slow.Close()
	msg := rawRequest("OPTIONS", "SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-slow", "")
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for i := 0; i < len(msg); i++ {
			if _, err := slow.Write([]byte{msg[i]}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("a message trickling in kept the connection")
	}
	assert.True(t, closedWithin(slow, time.Second))

	ok, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer ok.Close()
	_, err = ok.Write([]byte(rawRequest("OPTIONS", "SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-ok", "")))
	require.NoError(t, err)
	_ = ok.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	n, err := ok.Read(buf)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(buf[:n]), "SIP/2.0 200 OK"))
}

func TestTCPConnectionsPerSourceCapped(t *testing.T) {
	addr := serveTCP(t, &TransportTCP{MaxConnsPerSource: 3})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	extra, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer extra.Close()
	assert.True(t, closedWithin(extra, 2*time.Second), "fourth connection from one source kept")
	for _, c := range conns {
		assert.False(t, closedWithin(c, 100*time.Millisecond))
	}
	// A closed connection frees its place.
	conns[0].Close()
	time.Sleep(200 * time.Millisecond)
	again, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer again.Close()
	assert.False(t, closedWithin(again, 300*time.Millisecond))
}

// A CANCEL matches its INVITE only when it comes from the INVITE's address: anyone who saw the
// INVITE could otherwise end the call.
func TestCancelFromAnotherAddressDoesNotCancel(t *testing.T) {
	_, addr, got := serveUDP(t)
	caller := newUDPPeer(t)
	other, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Skip("no 127.0.0.2 on this machine")
	}
	defer other.Close()
	via := "SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(caller.port()) + ";branch=z9hG4bK-cancel;rport"
	invite := rawRequest("INVITE", via, "Contact: <sip:alice@127.0.0.1>\r\n")
	_, err = caller.conn.WriteToUDP([]byte(invite), addr)
	require.NoError(t, err)
	select {
	case <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("INVITE not delivered")
	}
	cancel := strings.Replace(rawRequest("CANCEL", via, ""), "CANCEL sip:", "CANCEL sip:", 1)
	_, err = other.WriteToUDP([]byte(cancel), addr)
	require.NoError(t, err)
	select {
	case r := <-got:
		assert.Equal(t, CANCEL, r.Method, "the CANCEL reaches the application as a request of its own")
	case <-time.After(2 * time.Second):
		t.Fatal("the foreign CANCEL went nowhere")
	}
	assert.Equal(t, "", caller.recvFinal(300*time.Millisecond), "the INVITE was cancelled by another address")

	_, err = caller.conn.WriteToUDP([]byte(cancel), addr)
	require.NoError(t, err)
	res := caller.recvFinal(2 * time.Second)
	assert.True(t, strings.HasPrefix(res, "SIP/2.0 200 OK\r\n"), res)
	res = caller.recvFinal(2 * time.Second)
	assert.True(t, strings.HasPrefix(res, "SIP/2.0 487 "), res)
}

// recvFinal is the next message that is not a provisional response, or "".
func (p *udpPeer) recvFinal(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		m := p.recv(time.Until(deadline))
		if !strings.HasPrefix(m, "SIP/2.0 1") {
			return m
		}
	}
}

// TestTCPIdleConnectionKeptWhileNeeded: KeepIdle keeps an idle connection the application
// still needs and lets it close once it no longer does; a half-sent message still closes.
func TestTCPIdleConnectionKeptWhileNeeded(t *testing.T) {
	var need atomic.Bool
	need.Store(true)
	var asked atomic.Int32
	addr := serveTCP(t, &TransportTCP{IdleTimeout: 300 * time.Millisecond, MessageTimeout: 400 * time.Millisecond,
		KeepIdle: func(string) bool { asked.Add(1); return need.Load() }})

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	assert.False(t, closedWithin(c, 1200*time.Millisecond), "needed idle connection closed")
	assert.GreaterOrEqual(t, asked.Load(), int32(2), "KeepIdle not asked at each idle timeout")
	need.Store(false)
	assert.True(t, closedWithin(c, 2*time.Second), "idle connection kept after it was no longer needed")

	need.Store(true)
	half, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer half.Close()
	_, err = half.Write([]byte("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1"))
	require.NoError(t, err)
	assert.True(t, closedWithin(half, 2*time.Second), "an incomplete message kept the connection")
}

// TestOwnResponsesPassTheHook: the responses the library makes on its own (400 to what does
// not parse, over UDP and TCP; 400 to an invalid request; 505) go through the
// WithTransportLayerOwnResponses hook, which can add the Server header.
func TestOwnResponsesPassTheHook(t *testing.T) {
	stamp := WithTransportLayerOwnResponses(func(r *Response) { r.AppendHeader(NewHeader("Server", "test-server")) })
	tcp := &TransportTCP{}
	tp := NewTransportLayer(net.DefaultResolver, NewParser(), nil, stamp, WithTransportLayerTransports(TransportsConfig{TCP: tcp}))
	txl := NewTransactionLayer(tp)
	txl.OnRequest(func(req *Request, tx *ServerTx) { _ = tx.Respond(NewResponseFromRequest(req, 200, "OK", nil)) })
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = tp.ServeUDP(conn) }()
	go func() { _ = tp.ServeTCP(ln) }()
	t.Cleanup(func() { txl.Close(); tp.Close(); conn.Close(); ln.Close() })

	peer := newUDPPeer(t)
	addr := conn.LocalAddr().(*net.UDPAddr)
	via := func(b string) string {
		return "SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(peer.port()) + ";branch=z9hG4bK" + b
	}
	for _, c := range []struct{ name, msg, status string }{
		{"unparsable", rawRequest("OPTIONS", "SIP/2.0/UDP 127.0.0.1:1;;,;,,", ""), "SIP/2.0 400 "},
		{"SIP/7.0", strings.Replace(rawRequest("OPTIONS", via("v7"), ""), "SIP/2.0\r\n", "SIP/7.0\r\n", 1), "SIP/2.0 505 "},
		{"two Call-IDs", rawRequest("OPTIONS", via("dup"), "Call-ID: another\r\n"), "SIP/2.0 400 "},
	} {
		_, err := peer.conn.WriteToUDP([]byte(c.msg), addr)
		require.NoError(t, err)
		res := peer.recv(2 * time.Second)
		assert.True(t, strings.HasPrefix(res, c.status), "%s: %q", c.name, res)
		assert.Contains(t, res, "Server: test-server\r\n", c.name)
	}

	tc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer tc.Close()
	_, err = tc.Write([]byte(rawRequest("OPTIONS", "SIP/2.0/TCP 127.0.0.1:1;;,;,,", "")))
	require.NoError(t, err)
	_ = tc.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n, err := tc.Read(buf)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(buf[:n]), "SIP/2.0 400 "), string(buf[:n]))
	assert.Contains(t, string(buf[:n]), "Server: test-server\r\n")
}

// TestTransactionOwnResponsesPassTheHook: the responses an INVITE server transaction makes on
// its own, 100 Trying (timer 1xx) and 487 Request Terminated after a CANCEL, go through the
// WithTransportLayerOwnResponses hook like the 200 to the CANCEL does.
func TestTransactionOwnResponsesPassTheHook(t *testing.T) {
	stamp := WithTransportLayerOwnResponses(func(r *Response) { r.AppendHeader(NewHeader("Server", "test-server")) })
	tp := NewTransportLayer(net.DefaultResolver, NewParser(), nil, stamp)
	txl := NewTransactionLayer(tp)
	txl.OnRequest(func(req *Request, tx *ServerTx) {}) // rings until cancelled
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	go func() { _ = tp.ServeUDP(conn) }()
	t.Cleanup(func() { txl.Close(); tp.Close(); conn.Close() })

	peer := newUDPPeer(t)
	addr := conn.LocalAddr().(*net.UDPAddr)
	via := "SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(peer.port()) + ";branch=z9hG4bKcancelme"
	_, err = peer.conn.WriteToUDP([]byte(rawRequest("INVITE", via, "")), addr)
	require.NoError(t, err)
	trying := peer.recv(2 * time.Second)
	assert.True(t, strings.HasPrefix(trying, "SIP/2.0 100 "), trying)
	assert.Contains(t, trying, "Server: test-server\r\n", "100 Trying")

	_, err = peer.conn.WriteToUDP([]byte(rawRequest("CANCEL", via, "")), addr)
	require.NoError(t, err)
	got := map[string]string{}
	for i := 0; i < 2; i++ {
		m := peer.recv(2 * time.Second)
		got[m[:min(len(m), 11)]] = m
	}
	for _, c := range []struct{ status, method string }{{"SIP/2.0 200", "CANCEL"}, {"SIP/2.0 487", "INVITE"}} {
		m, ok := got[c.status]
		require.True(t, ok, "no %s to the %s: %v", c.status, c.method, got)
		assert.Contains(t, m, "CSeq: 1 "+c.method+"\r\n")
		assert.Contains(t, m, "Server: test-server\r\n", c.status)
	}
}
