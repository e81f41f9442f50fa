// Package web is callrec's front door: the Echo server with the Control Panel's pages, the JSON
// API under /api/v1, sessions, CSRF, roles and rate limits.
package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"callrec/internal/ratelimit"
	"callrec/media"
	"callrec/models"
	"callrec/models/files"
)

// Config holds the front door's settings.
type Config struct {
	DataDir string
	// Storage is where recordings and announcements are read, written and deleted (nil: the
	// data folder); with a bucket, cmd/callrec passes it seen together with the node's spool.
	Storage       files.Storage
	SecureCookies bool  // set the Secure flag on cookies and send HSTS (serve behind HTTPS)
	MaxBody       int64 // bytes for ordinary requests (default 1 MiB)
	MaxUpload     int64 // bytes for uploads (default 50 MB)
	Logger        *slog.Logger
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client (rate
	// limits, bookings and the audit trail use that address); empty: the connection's address.
	TrustedProxies []*net.IPNet
	// Announcements (cmd/callrec fills the two funcs from media/prompts): the longest upload or
	// conversion (default 10 min), the shipped default prompt audio, and a text as the speech
	// engine should read it ("#1" -> "Raute eins").
	MaxAnnouncement time.Duration
	DefaultPrompt   func(slot, lang string) []byte
	Speakable       func(text, lang string) string
	// Engine is the running recording engine for the Live calls page and recording control;
	// nil when no engine runs (the page says so).
	Engine LiveEngine
	// Nodes drains the nodes of a cluster from the platform admin's Nodes page; NodeID is this
	// node's id. Nil and empty when the process runs alone.
	Nodes  NodeControl
	NodeID string
	// EngineHealth is this process's engine: its calls and trunk registration, for the Nodes
	// page and the platform admin's home (nil: no engine runs here).
	EngineHealth func() media.Health
	// FTP access page: the addresses clients use for FTPS and SFTP (empty: off) and the SFTP host
	// key's fingerprint (ssh.FingerprintSHA256), shown to the customer admin.
	FTPAddr, SFTPAddr, SFTPFingerprint string
	// Webhooks: WebhookAllowInsecure lets endpoints use http:// and private addresses
	// (--webhook-allow-insecure); WebhookKick tells the delivery worker a message waits (nil:
	// it looks every second anyway).
	WebhookAllowInsecure bool
	WebhookKick          func()
	// ObserveRequest, when set, is told every request's route pattern (from the route table,
	// never the path with its ids), method, status and duration (the metrics).
	ObserveRequest func(route, method string, status int, d time.Duration)
}

// Server is the Control Panel and API: the router, the middleware every request passes, and
// the feature handlers the route table names.
type Server struct {
	cfg      Config
	store    *models.Store
	sessions *scs.SessionManager
	echo     *echo.Echo
	log      *slog.Logger
	hub      *liveHub
	admit    *admission
	gate     gate
	views    views
	tree     dataTree
	h        handlers
}

// handlers are the feature handlers, each with only what it uses.
type handlers struct {
	auth          *authHandler
	customers     *customersHandler
	users         *usersHandler
	pools         *poolsHandler
	booking       *bookingHandler
	announcements *announcementsHandler
	recordings    *recordingsHandler
	live          *liveHandler
	callLog       *callLogHandler
	ftpAccess     *ftpAccessHandler
	audit         *auditHandler
	home          *homeHandler
	webhooks      *webhooksHandler
	nodes         *nodesHandler
	numbers       *numbersHandler
}

// New builds the server and its routes.
func New(cfg Config, store *models.Store) *Server {
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.MaxUpload == 0 {
		cfg.MaxUpload = 50_000_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	sm := scs.New()
	sm.Codec = newCachedCodec(sm.Codec, 10_000)
	sm.Store = storeSessions(store, 30*time.Minute, sm.Codec, 100_000)
	sm.Lifetime = 12 * time.Hour
	// No scs IdleTimeout: it re-saves the session (a database write) on every request. loadUser
	// enforces the idle limit itself and refreshes the session at most once a minute.
	sm.Cookie.Name = "callrec_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = cfg.SecureCookies
	sm.Cookie.Persist = false
	s := &Server{cfg: cfg, store: store, sessions: sm, log: cfg.Logger, hub: newLiveHub(), admit: newAdmission(),
		gate: gate{store: store, sessions: sm}, views: views{sm}, tree: newDataTree(cfg.DataDir, cfg.Storage)}
	s.h = s.newHandlers()
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		if store.Unavailable(err) { // the session could not be read or saved: the same 503 as any page
			s.handleError(err, s.echo.NewContext(r, echo.NewResponse(w, s.echo)))
			return
		}
		s.log.Error("session", "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
	s.echo = s.routes()
	return s
}

func (s *Server) newHandlers() handlers {
	cfg, store, v, log := s.cfg, s.store, s.views, s.log
	booking := &bookingHandler{store: store, views: v, ftpAvailable: cfg.FTPAddr != "" || cfg.SFTPAddr != ""}
	announcements := &announcementsHandler{store: store, tree: s.tree, views: v, log: log, maxUpload: cfg.MaxUpload,
		maxDuration: cfg.MaxAnnouncement, defaultPrompt: cfg.DefaultPrompt, speakable: cfg.Speakable}
	live := &liveHandler{store: store, engine: cfg.Engine, hub: s.hub, views: v, log: log}
	pools := &poolsHandler{store: store, views: v, modules: []poolSection{booking.poolSection, announcements.poolSection}}
	booking.showPool = pools.showPool
	nodes := &nodesHandler{store: store, nodes: cfg.Nodes, nodeID: cfg.NodeID, health: cfg.EngineHealth, views: v}
	return handlers{
		auth:          &authHandler{store: store, sessions: s.sessions, logins: ratelimit.New(5, 15*time.Minute), views: v, log: log},
		customers:     &customersHandler{store: store, views: v},
		users:         &usersHandler{store: store, views: v},
		pools:         pools,
		booking:       booking,
		announcements: announcements,
		recordings:    &recordingsHandler{store: store, tree: s.tree, views: v, log: log, lists: &listViews{}, secureCookies: cfg.SecureCookies},
		live:          live,
		callLog:       &callLogHandler{store: store, views: v, live: live},
		ftpAccess:     &ftpAccessHandler{store: store, views: v, ftpAddr: cfg.FTPAddr, sftpAddr: cfg.SFTPAddr, sftpFingerprint: cfg.SFTPFingerprint},
		audit:         &auditHandler{store: store, views: v, log: log},
		home:          &homeHandler{store: store, views: v, live: live, nodes: nodes},
		numbers:       &numbersHandler{store: store, views: v},
		webhooks: &webhooksHandler{store: store, views: v, policy: models.WebhookURLPolicy{AllowInsecure: cfg.WebhookAllowInsecure},
			kick: cfg.WebhookKick},
		nodes: nodes,
	}
}

// Handler is the HTTP handler to serve.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo exposes the router (tests list its routes).
func (s *Server) Echo() *echo.Echo { return s.echo }

// recoverer turns a handler's panic into a 500 with the stack in the log.
func (s *Server) recoverer() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		s.log.Error("panic", "err", err, "path", c.Request().URL.Path, "stack", string(stack))
		return err
	}})
}

// pageSession applies m to everything but the API, assets and health checks, so that pages,
// including error pages of unknown paths, know the session, user and language.
func (s *Server) pageSession(m echo.MiddlewareFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withM := m(next)
		return func(c echo.Context) error {
			if isPagePath(c.Request().URL.Path) {
				return withM(c)
			}
			return next(c)
		}
	}
}

func isPagePath(p string) bool {
	return !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/static/") && p != "/healthz"
}

func (s *Server) healthz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		st := c.Response().Status
		if s.cfg.ObserveRequest != nil {
			route := c.Path() // the table's pattern ("/recordings/:id"), so ids never become labels
			if route == "" {
				route = "unmatched"
			}
			s.cfg.ObserveRequest(route, c.Request().Method, st, time.Since(start))
		}
		lvl := slog.LevelDebug
		if st >= 500 {
			lvl = slog.LevelError
		}
		if ctx := c.Request().Context(); s.log.Enabled(ctx, lvl) { // no boxed arguments per request when off
			s.log.Log(ctx, lvl, "http", "method", c.Request().Method, "path", c.Request().URL.Path,
				"status", st, "ms", time.Since(start).Milliseconds())
		}
		return nil
	}
}

// securityHeaders are the headers of every answer. Pages get a fresh script nonce each (in the
// context for templ, templ.GetNonce): the policy allows scripts from /static and those carrying
// the nonce, never inline ones, so markup an attacker manages to inject cannot run. Styles stay
// 'unsafe-inline' (htmx inserts its indicator style). Everything but the embedded assets is
// personal or changes with the session: no cache keeps it. HSTS only where the operator said
// the panel is served over HTTPS (--secure-cookies), or plain-HTTP setups would lock themselves
// out.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if s.cfg.SecureCookies {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		p := c.Request().URL.Path
		if strings.HasPrefix(p, "/static/") {
			h.Set("Content-Security-Policy", cspStatic)
			return next(c)
		}
		h.Set("Cache-Control", "no-store")
		nonce := newNonce()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; script-src 'self' 'nonce-"+nonce+"'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		setCtx(c, templ.WithNonce(c.Request().Context(), nonce))
		return next(c)
	}
}

const cspStatic = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'"

// newNonce is a CSP nonce: 128 random bits, base64.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// removeTempFiles removes the temporary files of a multipart form parsed while handling the
// request, whatever the handler answered. net/http removes them only for the request it handed
// out, and every middleware that adds to the context works on a copy (setCtx).
func removeTempFiles(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		defer func() {
			if f := c.Request().MultipartForm; f != nil {
				_ = f.RemoveAll()
			}
		}()
		return next(c)
	}
}

// bodyLimit answers 413 for bodies larger than n bytes (an upload route's with the upload's
// message), translated by handleError.
func bodyLimit(n int64, upload bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > n {
				// Read (a bounded amount of) what the client is sending so it receives the 413
				// instead of a connection reset; a client waiting for 100 Continue has sent
				// nothing and gets the 413 at once (reading would ask it for the body).
				if !strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
					_, _ = io.CopyN(io.Discard, r.Body, min(r.ContentLength, 8<<20))
				}
				if upload {
					return models.ErrFileTooLarge
				}
				return models.ErrTooLarge
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			return next(c)
		}
	}
}

// isTooLarge reports whether err came from a body over its limit.
func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
