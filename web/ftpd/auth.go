// Package ftpd serves each customer's recordings (call_recording/<subscriberId>) read-only over
// FTPS (explicit TLS required) and SFTP, to the FTP login the customer admin sets in the Control
// Panel, only while the customer has booked the FTP access module.
package ftpd

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"callrec/internal/ratelimit"
	"callrec/models"
	"callrec/models/files"
)

// Store is what the servers need from the Control Panel's data.
type Store interface {
	// AuthenticateFTP checks a login; models.ErrInvalidCredentials for unknown users and wrong passwords.
	AuthenticateFTP(ctx context.Context, username, password string) (models.FTPAccount, error)
	// HasFTPAccess reports whether the customer has the FTP access module booked now.
	HasFTPAccess(ctx context.Context, customerID uint) (bool, error)
	// FTPCustomerOf names the customer an FTP user belongs to (0: none), for the audit of failures.
	FTPCustomerOf(ctx context.Context, username string) uint
	Audit(ctx context.Context, e models.AuditEntry) error
}

var _ Store = (*models.Store)(nil)

// Config is one server's settings.
type Config struct {
	Addr string // listen address, e.g. ":2121" (FTPS) or ":2222" (SFTP); "127.0.0.1:0" in tests
	// PassivePorts is the FTPS passive data port range (inclusive); zero: any free port.
	PassivePorts [2]int
	// PublicHost is the IPv4 address announced in PASV answers when clients reach the server
	// through NAT; empty: the address the client connected to.
	PublicHost string
	DataDir    string // data folder: keys and certificates here, and recordings unless Storage is set
	// Storage is where the recordings are (nil: the data folder); they are read under
	// call_recording/<subscriberId> only.
	Storage files.Storage
	// TLS for FTPS. When nil, CertFile and KeyFile (PEM) are loaded; when those are empty too, a
	// self-signed certificate is created once and kept as DataDir/ftps-cert.pem and ftps-key.pem.
	TLS               *tls.Config
	CertFile, KeyFile string
	// HostKeyFile is SFTP's host key (OpenSSH PEM); empty: DataDir/sftp_host_ed25519_key, an ed25519
	// key created on first start.
	HostKeyFile string
	// MaxFailures failed logins per client IP and per user name within FailureWindow are allowed;
	// after that logins are refused until the window ends (defaults 5 per 15 minutes).
	MaxFailures   int
	FailureWindow time.Duration
	// Failures, when set, is shared by servers so that FTPS and SFTP draw on one allowance;
	// nil: the server counts on its own (ratelimit.New with MaxFailures, FailureWindow).
	Failures *ratelimit.Failures
	// BookingRecheck is how long an open session trusts that the module is still booked before it
	// asks again (default 10 s), so that cancelling ends access also for connected clients.
	BookingRecheck time.Duration
	// IdleTimeout ends sessions without traffic (default 10 minutes).
	IdleTimeout time.Duration
	// MaxConnsPerIP bounds the open control/SSH connections from one address (default 16).
	MaxConnsPerIP int
	Logger        *slog.Logger
}

func (c *Config) defaults() {
	if c.MaxFailures == 0 {
		c.MaxFailures = 5
	}
	if c.FailureWindow == 0 {
		c.FailureWindow = 15 * time.Minute
	}
	if c.BookingRecheck == 0 {
		c.BookingRecheck = 10 * time.Second
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = 16
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Errors a login can end with; the text goes to the client.
var (
	ErrBadLogin    = errors.New("login incorrect")
	ErrNotBooked   = errors.New("FTP access is not booked for this customer")
	ErrRateLimited = errors.New("too many failed logins; try again later")
)

// gate authenticates, rate-limits and audits logins for one protocol ("ftp" or "sftp").
type gate struct {
	recheck time.Duration
	proto   string
	store   Store
	st      files.Storage
	log     *slog.Logger
	fails   *ratelimit.Failures
}

func newGate(proto string, cfg Config, store Store) (*gate, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("ftpd: no data folder")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, err
	}
	st := cfg.Storage
	if st == nil {
		l, err := files.NewLocal(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		st = l
	}
	fails := cfg.Failures
	if fails == nil {
		fails = ratelimit.New(cfg.MaxFailures, cfg.FailureWindow)
	}
	return &gate{recheck: cfg.BookingRecheck, proto: proto, store: store, st: st, log: cfg.Logger,
		fails: fails}, nil
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// login checks user and password from ip. On success it returns the account and a view of its
// folder, which the caller closes at the end of the session.
func (g *gate) login(ctx context.Context, ip, user, pass string) (models.FTPAccount, *view, error) {
	ipKey, userKey := "ip:"+ip, "user:"+user
	if b, _ := g.fails.Blocked(ipKey); b {
		g.audit(ctx, ip, user, "rate_limited")
		return models.FTPAccount{}, nil, ErrRateLimited
	}
	if b, _ := g.fails.Blocked(userKey); b {
		g.audit(ctx, ip, user, "rate_limited")
		return models.FTPAccount{}, nil, ErrRateLimited
	}
	acc, err := g.store.AuthenticateFTP(ctx, user, pass)
	if err != nil {
		if !errors.Is(err, models.ErrInvalidCredentials) {
			// Not the client's fault (the database away, say): no failed attempt counted, or
			// a client retrying through a database restart would be locked out after it.
			g.log.Error(g.proto+" login", "err", err)
			return models.FTPAccount{}, nil, ErrBadLogin
		}
		g.fails.Fail(ipKey)
		g.fails.Fail(userKey)
		g.audit(ctx, ip, user, "bad_credentials")
		return models.FTPAccount{}, nil, ErrBadLogin
	}
	booked, err := g.store.HasFTPAccess(ctx, acc.CustomerID)
	if err != nil {
		g.log.Error(g.proto+" booking", "err", err)
		return models.FTPAccount{}, nil, ErrNotBooked
	}
	if !booked {
		g.audit(ctx, ip, user, "not_booked")
		return models.FTPAccount{}, nil, ErrNotBooked
	}
	v, err := customerView(g.st, acc.SubscriberID, g.stillBooked(acc.CustomerID))
	if err != nil {
		g.log.Error(g.proto+" folder", "subscriber", acc.SubscriberID, "err", err)
		return models.FTPAccount{}, nil, errors.New("recordings folder unavailable")
	}
	// The IP's count stays: a valid login must not reset a spray of guesses at other users.
	g.fails.Reset(userKey)
	if err := g.store.Audit(ctx, models.AuditEntry{CustomerID: acc.CustomerID, Actor: models.Actor{Username: acc.Username},
		IP: ip, Kind: g.proto + ".login", Object: g.proto}); err != nil {
		g.log.Error(g.proto+" audit", "err", err)
	}
	return acc, v, nil
}

// stillBooked returns a check that the customer's booking is in force, asking the store at most
// once per recheck interval.
func (g *gate) stillBooked(customerID uint) func() error {
	var mu sync.Mutex
	checked := time.Now()
	var last error
	return func() error {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(checked) < g.recheck {
			return last
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		booked, err := g.store.HasFTPAccess(ctx, customerID)
		checked = time.Now()
		switch {
		case err != nil:
			g.log.Error(g.proto+" booking", "err", err)
			last = ErrNotBooked
		case !booked:
			last = ErrNotBooked
		default:
			last = nil
		}
		return last
	}
}

// audit records a refused login for the customer the user name belongs to (0 when unknown).
func (g *gate) audit(ctx context.Context, ip, user, reason string) {
	if len(user) > 100 {
		user = user[:100]
	}
	cid := g.store.FTPCustomerOf(ctx, user)
	err := g.store.Audit(ctx, models.AuditEntry{CustomerID: cid, Actor: models.Actor{Username: user}, IP: ip,
		Kind: g.proto + ".login_failed", Object: g.proto, New: map[string]string{"reason": reason}})
	if err != nil {
		g.log.Error(g.proto+" audit", "err", err)
	}
	g.log.Warn(g.proto+" login refused", "user", user, "ip", ip, "reason", reason)
}

// download audits a file handed out.
func (g *gate) download(acc models.FTPAccount, ip, name string) {
	err := g.store.Audit(context.Background(), models.AuditEntry{CustomerID: acc.CustomerID,
		Actor: models.Actor{Username: acc.Username}, IP: ip, Kind: g.proto + ".download",
		Object: "call_recording/" + acc.SubscriberID + "/" + rel(name)})
	if err != nil {
		g.log.Error(g.proto+" audit", "err", err)
	}
}

func (g *gate) close() error { return nil }
