package ftpd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"callrec/models"
)

// FTPServer serves recordings over FTPS with explicit TLS (AUTH TLS) required before login and
// for every transfer.
type FTPServer struct {
	cfg    Config
	gate   *gate
	tls    *tls.Config
	server *ftpserver.FtpServer
	ln     net.Listener // set by Listen, handed to ftpserverlib through GetSettings
	once   sync.Once
}

// NewFTPS prepares an FTPS server; Listen or ListenAndServe start it.
func NewFTPS(cfg Config, store Store) (*FTPServer, error) {
	cfg.defaults()
	cfg.PublicHost = passiveIPv4(cfg.PublicHost, cfg.Logger)
	g, err := newGate("ftp", cfg, store)
	if err != nil {
		return nil, err
	}
	tc, err := ftpsTLS(cfg)
	if err != nil {
		g.close()
		return nil, err
	}
	s := &FTPServer{cfg: cfg, gate: g, tls: tc}
	s.server = ftpserver.NewFtpServer(&driver{s: s})
	s.server.Logger = cfg.Logger.With("component", "ftps")
	return s, nil
}

// Listen opens the control port (Addr then tells which one).
func (s *FTPServer) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	s.ln = limitPerIP(ln, s.cfg.MaxConnsPerIP)
	if err := s.server.Listen(); err != nil {
		ln.Close()
		return err
	}
	return nil
}

// Addr is the control port's address once listening.
func (s *FTPServer) Addr() string { return s.server.Addr() }

// Serve accepts clients until ctx ends or Close is called.
func (s *FTPServer) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	return s.server.Serve()
}

// ListenAndServe listens on cfg.Addr and serves until ctx ends.
func (s *FTPServer) ListenAndServe(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.cfg.Logger.Info("FTPS listening", "addr", s.Addr())
	return s.Serve(ctx)
}

// Close stops accepting clients. Sessions already logged in end with their connection.
func (s *FTPServer) Close() error {
	var err error
	s.once.Do(func() {
		if e := s.server.Stop(); e != nil && !errors.Is(e, ftpserver.ErrNotListening) {
			err = e
		}
		_ = s.gate.close()
	})
	return err
}

// driver is ftpserverlib's main driver.
type driver struct{ s *FTPServer }

func (d *driver) GetSettings() (*ftpserver.Settings, error) {
	cfg := d.s.cfg
	st := &ftpserver.Settings{
		Listener:    d.s.ln,
		ListenAddr:  cfg.Addr,
		PublicHost:  cfg.PublicHost,
		Banner:      "callrec recordings (FTPS, read-only)",
		TLSRequired: ftpserver.MandatoryEncryption,
		IdleTimeout: int(cfg.IdleTimeout / time.Second), ConnectionTimeout: 30,
		// Passive only: active mode would make the server connect out to addresses clients name.
		DisableActiveMode: true,
		DisableSite:       true,
		DisableMFMT:       true,
		// Recordings are binary; never rewrite line ends.
		DisableASCIIConversion: true,
		DefaultTransferType:    ftpserver.TransferTypeBinary,
	}
	if p := cfg.PassivePorts; p[0] > 0 && p[1] >= p[0] {
		st.PassiveTransferPortRange = ftpserver.PortRange{Start: p[0], End: p[1]}
	}
	return st, nil
}

func (d *driver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	return "callrec recordings: AUTH TLS required, read-only", nil
}

func (d *driver) ClientDisconnected(cc ftpserver.ClientContext) {
}

func (d *driver) AuthUser(cc ftpserver.ClientContext, user, pass string) (ftpserver.ClientDriver, error) {
	ip := hostOf(cc.RemoteAddr())
	if !cc.HasTLSForControl() { // ftpserverlib refuses USER before; stay safe if that changes
		d.s.gate.audit(context.Background(), ip, user, "no_tls")
		return nil, errors.New("TLS is required")
	}
	if _, ok := cc.Extra().(*ftpSession); ok { // a second USER/PASS on the same connection
		cc.SetExtra(nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acc, v, err := d.s.gate.login(ctx, ip, user, pass)
	if err != nil {
		return nil, err
	}
	sess := &ftpSession{view: v, v: v, acc: acc, gate: d.s.gate, ip: ip, cc: cc}
	cc.SetExtra(sess)
	return sess, nil
}

func (d *driver) GetTLSConfig() (*tls.Config, error) { return d.s.tls, nil }

// ftpSession is one logged-in client's file system: the read-only view, with downloads audited.
type ftpSession struct {
	*view
	v    *view
	acc  models.FTPAccount
	gate *gate
	ip   string
	cc   ftpserver.ClientContext
}

// GetHandle is ftpserverlib's transfer extension: RETR opens through here, STOR/APPE are refused.
func (f *ftpSession) GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	if flags&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) != 0 {
		return nil, denied("open", name)
	}
	// ftpserverlib opens the file before it refuses a clear data channel; refuse first, so
	// nothing is opened or audited as downloaded.
	if !f.cc.HasTLSForTransfers() {
		return nil, errors.New("TLS is required for transfers (PROT P)")
	}
	file, fi, err := f.v.openRead(name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		file.Close()
		return nil, denied("open", name)
	}
	if offset > 0 {
		if _, err := file.Seek(offset, 0); err != nil {
			file.Close()
			return nil, err
		}
	}
	f.gate.download(f.acc, f.ip, name)
	return &roFile{f: file, v: f.v, name: name}, nil
}

// ftpsTLS builds the FTPS certificate configuration (see Config.TLS).
func ftpsTLS(cfg Config) (*tls.Config, error) {
	if cfg.TLS != nil {
		return cfg.TLS, nil
	}
	certFile, keyFile := cfg.CertFile, cfg.KeyFile
	if certFile == "" && keyFile == "" {
		certFile, keyFile = filepath.Join(cfg.DataDir, "ftps-cert.pem"), filepath.Join(cfg.DataDir, "ftps-key.pem")
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := writeSelfSigned(certFile, keyFile); err != nil {
				return nil, fmt.Errorf("ftpd: certificate: %w", err)
			}
			cfg.Logger.Info("FTPS: created a self-signed certificate", "cert", certFile)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("ftpd: certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// writeSelfSigned creates an ECDSA P-256 certificate valid for ten years for this host's name.
func writeSelfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "callrec FTPS " + host, Organization: []string{"callrec"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host != "" {
		tpl.DNSNames = append(tpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileExcl(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return writeFileExcl(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFileExcl writes a new file atomically (temporary file, then rename) so a crash never leaves
// half a key behind.
func writeFileExcl(name string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// passiveIPv4 turns the public host into the IPv4 address PASV answers need (ftpserverlib takes
// nothing else): a name is resolved; an IPv6 address or an unresolvable name is dropped with a
// warning, and PASV then names the address the client connected to (EPSV needs none).
func passiveIPv4(host string, log *slog.Logger) string {
	if host == "" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.To4() != nil {
			return ip.To4().String()
		}
		log.Warn("FTPS: the public address is not IPv4; PASV answers use the connection's address", "public", host)
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip4", host)
	if err != nil || len(ips) == 0 {
		log.Warn("FTPS: cannot resolve the public host to IPv4; PASV answers use the connection's address", "public", host, "err", err)
		return ""
	}
	return ips[0].String()
}
