package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// TCP transport implementation
type TransportTCP struct {
	transport       string
	parser          *Parser
	log             *slog.Logger
	connectionReuse bool
	readFilter      TransportReadFilter
	ownResponse     func(*Response) // TransportLayer's WithTransportLayerOwnResponses

	// ReadTimeout limits how long a TCP or TLS connection may block waiting
	// for data. It is copied when the connection is created. A non-positive
	// value disables the timeout.
	ReadTimeout time.Duration

	// WriteTimeout limits how long a TCP or TLS connection may block writing
	// data. It is copied when the connection is created. A non-positive value
	// disables the timeout.
	WriteTimeout time.Duration

	pool *ConnectionPool

	// IdleTimeout closes a connection on which nothing has arrived for this long while no
	// message is partly read. Zero: never. Peers keep connections they need alive (RFC 5626).
	IdleTimeout time.Duration

	// KeepIdle, when set, is asked when IdleTimeout passes on a connection (its remote
	// address): true keeps it open for another IdleTimeout. A UA whose dialog runs over the
	// connection needs it for the dialog's requests (the BYE of a long call with no other
	// traffic), and the peer may be unable to take a new connection (NAT, RFC 5923 3).
	KeepIdle func(raddr string) bool

	// MessageTimeout bounds how long a message may take to arrive once it has begun: a
	// connection holding an incomplete message for longer is closed (RFC 4475 3.1.2.2 asks for
	// "a reasonable period of time"; a slow sender must not hold it forever a byte at a time).
	// Zero: no bound.
	MessageTimeout time.Duration

	// MaxConnsPerSource caps the connections accepted from one IP address at a time; more are
	// closed at once. Zero: no cap.
	MaxConnsPerSource int

	DialerCreate func(laddr net.Addr) net.Dialer

	onConnClose func(conn Connection)

	sourcesMu sync.Mutex
	sources   map[string]int
}

func (t *TransportTCP) newConnection(conn net.Conn, refcount int) *TCPConnection {
	return &TCPConnection{
		Conn:         conn,
		readTimeout:  t.ReadTimeout,
		writeTimeout: t.WriteTimeout,
		refcount:     refcount,
	}
}

func (t *TransportTCP) init(par *Parser) {
	t.parser = par
	t.pool = newConnectionPool()
	t.transport = "TCP"
	if t.log == nil {
		t.log = DefaultLogger()
	}
	if t.DialerCreate == nil {
		t.DialerCreate = func(laddr net.Addr) net.Dialer {
			return net.Dialer{
				Timeout:   1 * time.Minute,
				LocalAddr: laddr,
			}
		}
	}
}

func (t *TransportTCP) String() string {
	return "Transport<TCP>"
}

func (t *TransportTCP) Network() string {
	// return "tcp"
	return t.transport
}

func (t *TransportTCP) Close() error {
	// return t.connections.Done()
	return t.pool.Clear()
}

// Serve is direct way to provide conn on which this worker will listen
func (t *TransportTCP) Serve(l net.Listener, handler MessageHandler) error {
	t.log.Debug("begin listening on", "network", t.Network(), "laddr", l.Addr().String())
	for {
		conn, err := l.Accept()
		if err != nil {
			t.log.Debug("Fail to accept conenction", "error", err)
			return err
		}
		if !t.admitSource(conn) {
			continue
		}
		t.initConnection(conn, conn.RemoteAddr().String(), handler)
	}
}

// admitSource counts an accepted connection against its source address, closing it when the
// source already holds MaxConnsPerSource. Counted connections are released by releaseSource.
func (t *TransportTCP) admitSource(conn net.Conn) bool {
	if t.MaxConnsPerSource <= 0 {
		return true
	}
	ip := sourceIP(conn)
	t.sourcesMu.Lock()
	if t.sources == nil {
		t.sources = map[string]int{}
	}
	over := t.sources[ip] >= t.MaxConnsPerSource
	if !over {
		t.sources[ip]++
	}
	t.sourcesMu.Unlock()
	if over {
		t.log.Debug("Too many connections from one source, closing", "raddr", conn.RemoteAddr().String())
		_ = conn.Close()
		return false
	}
	return true
}

func (t *TransportTCP) releaseSource(conn net.Conn) {
	if t.MaxConnsPerSource <= 0 {
		return
	}
	ip := sourceIP(conn)
	t.sourcesMu.Lock()
	if t.sources[ip] <= 1 {
		delete(t.sources, ip)
	} else {
		t.sources[ip]--
	}
	t.sourcesMu.Unlock()
}

func sourceIP(conn net.Conn) string {
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
	return host
}

func (t *TransportTCP) GetConnection(addr string) Connection {
	c := t.pool.Get(addr)
	return c
}

func (t *TransportTCP) CreateConnection(ctx context.Context, laddr Addr, raddr Addr, handler MessageHandler) (Connection, error) {
	// We are letting transport layer to resolve our address
	// raddr, err := net.ResolveTCPAddr("tcp", addr)
	// if err != nil {
	// 	return nil, err
	// }
	// We do singleflight if laddr is required or connection reuse
	conn, err := t.pool.addSingleflight(raddr, laddr, t.connectionReuse, func() (Connection, error) {
		var tladdr *net.TCPAddr = nil
		if laddr.IP != nil {
			tladdr = &net.TCPAddr{
				IP:   laddr.IP,
				Port: laddr.Port,
			}
		}

		traddr := &net.TCPAddr{
			IP:   raddr.IP,
			Port: raddr.Port,
		}

		addr := traddr.String()
		t.log.Debug("Dialing new connection", "raddr", addr)

		d := t.DialerCreate(tladdr)

		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s dial err=%w", t, err)
		}

		// if err := conn.SetKeepAlive(true); err != nil {
		// 	return nil, fmt.Errorf("%s keepalive err=%w", t, err)
		// }

		// if err := conn.SetKeepAlivePeriod(30 * time.Second); err != nil {
		// 	return nil, fmt.Errorf("%s keepalive period err=%w", t, err)
		// }

		t.log.Debug("New connection", "raddr", raddr)
		c := t.newConnection(conn, 2+TransportIdleConnection) // 1 returning + 1 reading + Idle

		go t.readConnection(c, c.LocalAddr().String(), c.RemoteAddr().String(), handler)
		return c, nil
	})
	if err != nil {
		return nil, err
	}

	c := conn.(*TCPConnection)
	return c, nil
}

func (t *TransportTCP) initConnection(conn net.Conn, raddr string, handler MessageHandler) Connection {
	// // conn.SetKeepAlive(true)
	// conn.SetKeepAlivePeriod(3 * time.Second)
	laddr := conn.LocalAddr().String()
	t.log.Debug("New connection", "raddr", raddr)
	c := t.newConnection(conn, 1+TransportIdleConnection)
	c.accepted = true
	t.pool.Add(laddr, c)
	t.pool.Add(raddr, c)
	go t.readConnection(c, laddr, raddr, handler)
	return c
}

// This should performe better to avoid any interface allocation
func (t *TransportTCP) readConnection(conn *TCPConnection, laddr string, raddr string, handler MessageHandler) {
	buf := make([]byte, TransportBufferReadSize)
	defer t.pool.deleteExact(laddr, conn)
	defer func() {
		if err := t.pool.CloseAndDelete(conn, raddr); err != nil {
			t.log.Warn("connection pool not clean cleanup", "error", err)
		}
	}()
	defer func() {
		if t.onConnClose != nil {
			t.onConnClose(conn)
		}
	}()
	if conn.accepted {
		defer t.releaseSource(conn.Conn)
	}

	// Create stream parser context
	par := t.parser.NewSIPStream()
	defer par.Close()

	// messageStart is when the message now partly read began to arrive.
	var messageStart time.Time
	for {
		idle := par.state == stateStartLine && (par.buf == nil || par.buf.Len() == 0)
		now := time.Now()
		switch {
		case idle:
			messageStart = time.Time{}
			conn.setReadLimit(t.IdleTimeout, now)
		case t.MessageTimeout > 0:
			if messageStart.IsZero() {
				messageStart = now
			}
			conn.readLimit = messageStart.Add(t.MessageTimeout)
		default:
			conn.readLimit = time.Time{}
		}
		num, err := conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
				t.log.Debug("connection was closed", "error", err)
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// Only the idle limit is the application's to lift, not ReadTimeout.
				idleLimit := idle && !conn.readLimit.IsZero() && !time.Now().Before(conn.readLimit)
				if idleLimit && t.KeepIdle != nil && t.KeepIdle(raddr) {
					t.log.Debug("Idle connection kept: the application still needs it", "raddr", raddr)
					continue
				}
				t.log.Debug("Closing connection: timed out", "raddr", raddr, "incomplete_message", !idle)
				return
			}

			t.log.Error("Read error", "error", err)
			return
		}

		data := buf[:num]
		if len(bytes.Trim(data, "\x00")) == 0 {
			continue
		}

		if t.readFilter != nil {
			filtered, err := t.readFilter(TransportReadProps{
				Transport:  t.Network(),
				LocalAddr:  conn.LocalAddr(),
				RemoteAddr: conn.RemoteAddr(),
			}, data)
			if err != nil {
				t.log.Error("Read filter error", "laddr", laddr, "raddr", raddr, "error", err)
				return
			}
			if len(filtered) == 0 {
				continue
			}
			data = filtered
		}

		// Check is keep alive
		datalen := len(data)
		// RFC 5626 section 3.5.1 puts a keep alive between messages. A read is
		// whatever TCP chose to deliver, so a CRLF ending a line of a message can
		// arrive alone; only an idle parser can be between messages.
		if datalen <= 4 && par.state == stateStartLine && par.Buffer().Len() == 0 {
			// One or 2 CRLF
			// https://datatracker.ietf.org/doc/html/rfc5626#section-3.5.1
			if len(bytes.Trim(data, "\r\n")) == 0 {
				t.log.Debug("Keep alive CRLF received")
				if datalen == 4 {
					// 2 CRLF is ping
					if _, err := conn.Write(data[:2]); err != nil {
						t.log.Error("Failed to pong keep alive", "error", err)
						return
					}
				}
				continue
			}
		}

		// TODO fallback to parseFull if message size limit is set

		// t.log.Debug().Str("raddr", raddr).Str("data", string(data)).Msg("new message")
		if err := t.parseStream(conn, par, data, raddr, handler); err != nil {
			// A framing error leaves no message boundary to resync on, so close the connection;
			// not at once, or the answers to the messages before it (and the 400) are lost.
			if tc, ok := conn.Conn.(*net.TCPConn); ok {
				_ = tc.CloseRead()
			}
			time.Sleep(framingLinger)
			return
		}
	}
}

// framingLinger is how long a connection whose stream lost its framing stays open for the
// answers still on their way.
const framingLinger = time.Second

// parseStream hands every complete message in the stream to handler. A request the parser
// refuses is answered with 400 when it can be (see badRequestResponse); the stream goes on
// after it when its end was known, and the connection is closed when it was not.
func (t *TransportTCP) parseStream(conn *TCPConnection, par *ParserStream, data []byte, src string, handler MessageHandler) error {
	if _, err := par.Write(data); err != nil {
		return err
	}
	for par.buf.Len() > 0 {
		msg, _, err := par.ParseNext()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if msg != nil {
			msg.SetTransport(t.Network())
			msg.SetSource(src)
		}
		if err != nil {
			t.log.Error("failed to parse", "error", err, "data", string(data))
			if res := badRequestResponse(msg, err); res != nil {
				if t.ownResponse != nil {
					t.ownResponse(res)
				}
				if werr := conn.WriteMsg(res); werr != nil {
					t.log.Debug("failed to answer a malformed request", "error", werr)
				}
			}
			if AsParseError(err) == nil || IsFramingError(err) {
				return err
			}
			continue
		}
		handler(msg)
	}
	return nil
}

type TCPConnection struct {
	net.Conn

	readTimeout  time.Duration
	writeTimeout time.Duration

	// readLimit is the reader's own deadline (idle or incomplete message); the earlier of it
	// and readTimeout applies to each Read.
	readLimit       time.Time
	readDeadlineSet bool
	accepted        bool

	mu       sync.RWMutex
	refcount int
}

func (c *TCPConnection) Ref(i int) int {
	c.mu.Lock()
	c.refcount += i
	ref := c.refcount
	c.mu.Unlock()
	DefaultLogger().Debug("TCP reference increment", "ip", c.LocalAddr().String(), "dst", c.RemoteAddr().String(), "ref", ref)
	return ref
}

func (c *TCPConnection) Close() error {
	c.mu.Lock()
	c.refcount = 0
	c.mu.Unlock()
	DefaultLogger().Debug("TCP doing hard close", "ip", c.LocalAddr().String(), "dst", c.RemoteAddr().String(), "ref", 0)
	return c.Conn.Close()
}

func (c *TCPConnection) TryClose() (int, error) {
	c.mu.Lock()
	c.refcount--
	ref := c.refcount
	c.mu.Unlock()
	DefaultLogger().Debug("TCP reference decrement", "ip", c.LocalAddr().String(), "dst", c.RemoteAddr().String(), "ref", ref)
	if ref > 0 {
		return ref, nil
	}

	if ref < 0 {
		DefaultLogger().Warn("TCP ref went negative", "ip", c.LocalAddr().String(), "dst", c.RemoteAddr().String(), "ref", ref)
		return 0, nil
	}

	DefaultLogger().Debug("TCP closing", "ip", c.LocalAddr().String(), "dst", c.RemoteAddr().String(), "ref", ref)
	return ref, c.Conn.Close()
}

func (c *TCPConnection) setReadLimit(d time.Duration, now time.Time) {
	if d > 0 {
		c.readLimit = now.Add(d)
	} else {
		c.readLimit = time.Time{}
	}
}

func (c *TCPConnection) Read(b []byte) (n int, err error) {
	deadline := c.readLimit
	if c.readTimeout > 0 {
		if d := time.Now().Add(c.readTimeout); deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if !deadline.IsZero() || c.readDeadlineSet {
		if err := c.Conn.SetReadDeadline(deadline); err != nil {
			return 0, err
		}
		c.readDeadlineSet = !deadline.IsZero()
	}

	// Some debug hook. TODO move to proper way
	n, err = c.Conn.Read(b)
	if SIPDebug {
		logSIPRead("TCP", c.Conn.LocalAddr().String(), c.Conn.RemoteAddr().String(), b[:n])
	}
	return n, err
}

func (c *TCPConnection) Write(b []byte) (n int, err error) {
	if c.writeTimeout > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
			return 0, err
		}
	}

	// Some debug hook. TODO move to proper way
	n, err = c.Conn.Write(b)
	if SIPDebug {
		logSIPWrite("TCP", c.Conn.LocalAddr().String(), c.Conn.RemoteAddr().String(), b[:n])
	}
	return n, err
}

func (c *TCPConnection) WriteMsg(msg Message) error {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	msg.StringWrite(buf)
	data := buf.Bytes()

	n, err := c.Write(data)
	if err != nil {
		return fmt.Errorf("conn %s write err=%w", c.RemoteAddr().String(), err)
	}

	if n == 0 {
		return fmt.Errorf("wrote 0 bytes")
	}

	if n != len(data) {
		return fmt.Errorf("fail to write full message")
	}
	return nil
}
