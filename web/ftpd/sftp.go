package ftpd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"callrec/models"
)

// SFTPServer serves recordings over SFTP (SSH subsystem "sftp" only: no shell, no exec, no
// forwarding), password login with the customer's FTP credentials.
type SFTPServer struct {
	cfg     Config
	gate    *gate
	ssh     *ssh.ServerConfig
	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
	hostKey ssh.PublicKey
}

// NewSFTP prepares an SFTP server; the host key is loaded, or created on first start.
func NewSFTP(cfg Config, store Store) (*SFTPServer, error) {
	cfg.defaults()
	g, err := newGate("sftp", cfg, store)
	if err != nil {
		return nil, err
	}
	keyFile := cfg.HostKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.DataDir, "sftp_host_ed25519_key")
	}
	signer, err := loadOrCreateHostKey(keyFile)
	if err != nil {
		g.close()
		return nil, fmt.Errorf("ftpd: host key: %w", err)
	}
	s := &SFTPServer{cfg: cfg, gate: g, conns: map[net.Conn]struct{}{}, hostKey: signer.PublicKey()}
	s.ssh = &ssh.ServerConfig{
		MaxAuthTries:     3,
		PasswordCallback: s.password,
		ServerVersion:    "SSH-2.0-callrec",
	}
	s.ssh.AddHostKey(signer)
	return s, nil
}

// HostKey is the server's public host key (for known_hosts).
func (s *SFTPServer) HostKey() ssh.PublicKey { return s.hostKey }

// Fingerprint is the host key's SHA256 fingerprint as ssh shows it ("SHA256:...").
func (s *SFTPServer) Fingerprint() string { return ssh.FingerprintSHA256(s.hostKey) }

// Listen opens the port (Addr then tells which one).
func (s *SFTPServer) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ln = limitPerIP(ln, s.cfg.MaxConnsPerIP)
	s.mu.Unlock()
	return nil
}

// Addr is the listening address.
func (s *SFTPServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// ListenAndServe listens on cfg.Addr and serves until ctx ends.
func (s *SFTPServer) ListenAndServe(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.cfg.Logger.Info("SFTP listening", "addr", s.Addr())
	return s.Serve(ctx)
}

// Serve accepts clients until ctx ends or Close is called.
func (s *SFTPServer) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("ftpd: SFTP not listening")
	}
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: back off rather than spin.
			delay = min(max(delay*2, 5*time.Millisecond), time.Second)
			s.cfg.Logger.Warn("SFTP accept", "err", err)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c = &idleConn{Conn: c}
		if !s.track(c, true) {
			c.Close()
			return nil
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.track(c, false)
			s.handle(c)
		}()
	}
}

func (s *SFTPServer) track(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closed {
			return false
		}
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	return true
}

// Close stops the listener and ends every session.
func (s *SFTPServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	_ = s.gate.close()
	return err
}

// sshSession carries a login from the password callback to the channels of the connection.
type sshSession struct {
	acc models.FTPAccount
	v   *view
}

// password is ssh's password callback: the gate decides; the account travels in Permissions.
func (s *SFTPServer) password(meta ssh.ConnMetadata, pass []byte) (*ssh.Permissions, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acc, _, err := s.gate.login(ctx, hostOf(meta.RemoteAddr()), meta.User(), string(pass))
	if err != nil {
		return nil, err
	}
	// The view is made per session channel; this one only proved the subscriber ID is sound.
	return &ssh.Permissions{Extensions: map[string]string{
		"customer": fmt.Sprint(acc.CustomerID), "subscriber": acc.SubscriberID, "user": acc.Username}}, nil
}

func (s *SFTPServer) handle(c net.Conn) {
	defer c.Close()
	// A client that never finishes the handshake must not hold the connection forever.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	conn, chans, reqs, err := ssh.NewServerConn(c, s.ssh)
	if err != nil {
		return
	}
	defer conn.Close()
	_ = c.SetDeadline(time.Time{})
	if ic, ok := c.(interface{ idle(time.Duration) }); ok {
		ic.idle(s.cfg.IdleTimeout)
	}
	go ssh.DiscardRequests(reqs) // global requests: port forwarding and the like are refused
	cid, _ := strconv.ParseUint(conn.Permissions.Extensions["customer"], 10, 64)
	acc := models.FTPAccount{CustomerID: uint(cid), SubscriberID: conn.Permissions.Extensions["subscriber"],
		Username: conn.Permissions.Extensions["user"]}
	ip := hostOf(conn.RemoteAddr())
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.Prohibited, "only SFTP is offered")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.session(ch, creqs, acc, ip)
		}()
	}
	wg.Wait()
}

// session answers a session channel's requests: only the "sftp" subsystem is accepted.
func (s *SFTPServer) session(ch ssh.Channel, reqs <-chan *ssh.Request, acc models.FTPAccount, ip string) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "subsystem" || len(req.Payload) < 4 || string(req.Payload[4:]) != "sftp" {
			_ = req.Reply(false, nil) // env, pty-req, shell, exec, x11-req, ...
			if req.Type == "shell" || req.Type == "exec" {
				_, _ = io.WriteString(ch.Stderr(), "This server offers SFTP only.\r\n")
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{1}))
				return
			}
			continue
		}
		v, err := customerView(s.gate.st, acc.SubscriberID, s.gate.stillBooked(acc.CustomerID))
		if err != nil {
			s.cfg.Logger.Error("SFTP folder", "err", err)
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		go ssh.DiscardRequests(reqs)
		h := &sftpHandler{v: v, acc: acc, gate: s.gate, ip: ip}
		rs := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h})
		if err := rs.Serve(); err != nil && !errors.Is(err, io.EOF) {
			s.cfg.Logger.Debug("SFTP session", "err", err)
		}
		_ = rs.Close()
		return
	}
}

// sftpHandler maps SFTP requests onto the read-only view.
type sftpHandler struct {
	v    *view
	acc  models.FTPAccount
	gate *gate
	ip   string
}

// sftpErr gives clients the SFTP status that fits: permission denied or no such file.
func sftpErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrPermission):
		return sftp.ErrSSHFxPermissionDenied
	case errors.Is(err, fs.ErrNotExist):
		return sftp.ErrSSHFxNoSuchFile
	}
	return sftp.ErrSSHFxFailure
}

func (h *sftpHandler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	f, fi, err := h.v.openRead(r.Filepath)
	if err != nil {
		return nil, sftpErr(err)
	}
	if fi.IsDir() {
		return nil, sftp.ErrSSHFxFailure
	}
	h.gate.download(h.acc, h.ip, r.Filepath)
	return f, nil
}

func (h *sftpHandler) Filewrite(*sftp.Request) (io.WriterAt, error) {
	return nil, sftp.ErrSSHFxPermissionDenied
}

func (h *sftpHandler) Filecmd(*sftp.Request) error { return sftp.ErrSSHFxPermissionDenied }

func (h *sftpHandler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch r.Method {
	case "List":
		fis, err := h.v.readDir(r.Filepath)
		if err != nil {
			return nil, sftpErr(err)
		}
		return listerAt(fis), nil
	case "Stat", "Lstat":
		fi, err := h.v.Stat(r.Filepath)
		if err != nil {
			return nil, sftpErr(err)
		}
		return listerAt{fi}, nil
	}
	// Readlink: nothing served is a link.
	return nil, sftp.ErrSSHFxOpUnsupported
}

type listerAt []fs.FileInfo

func (l listerAt) ListAt(dst []fs.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

// loadOrCreateHostKey reads an OpenSSH private key, or creates an ed25519 one (mode 0600).
func loadOrCreateHostKey(file string) (ssh.Signer, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		block, merr := ssh.MarshalPrivateKey(priv, "callrec sftp host key")
		if merr != nil {
			return nil, merr
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
			return nil, err
		}
		b = pem.EncodeToMemory(block)
		if err := writeFileExcl(file, b, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return ssh.ParsePrivateKey(b)
}

// idleConn ends a connection on which nothing arrived for a while (after login; the handshake has
// its own deadline).
type idleConn struct {
	net.Conn
	mu      sync.Mutex
	timeout time.Duration
}

func (c *idleConn) idle(d time.Duration) {
	c.mu.Lock()
	c.timeout = d
	c.mu.Unlock()
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	d := c.timeout
	c.mu.Unlock()
	if d > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(d))
	}
	return c.Conn.Read(p)
}
