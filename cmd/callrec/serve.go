package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"callrec/media"
	"callrec/media/prompts"
	"callrec/models"
	"callrec/web"
)

// serve runs the Control Panel (and, wired in engine.go, the recording engine) until ctx ends.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel, stdout)
	startPprof(getenv, log)
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return err
	}
	store, err := models.Open(cfg.dbPath())
	if err != nil {
		return err
	}
	defer store.Close()
	store.DefaultAnnouncements = prompts.Text
	if err := bootstrap(ctx, store, cfg, getenv, stdout); err != nil {
		return err
	}
	if err := installDefaultPrompts(cfg.Data); err != nil {
		return fmt.Errorf("installing the standard announcements: %w", err)
	}
	if err := repairRecordings(ctx, store, cfg.Data, log); err != nil {
		return fmt.Errorf("repairing recordings after a crash: %w", err)
	}

	srv := web.New(web.Config{DataDir: cfg.Data, SecureCookies: cfg.SecureCookies, MaxUpload: cfg.UploadLimit, Logger: log}, store)
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	log.Info("control panel listening", "url", "http://"+ln.Addr().String())

	sink := newCallSink(store, nil, log)
	defer sink.Close()
	eng, err := media.New(media.Config{
		SIPAddr: cfg.SIP, Trunk: cfg.Trunk, PublicIP: cfg.PublicIP, RTPPorts: cfg.RTPPorts,
		DataDir: cfg.Data, RingTimeout: cfg.RingTimeout, Logger: log,
	}, directory{store: store, dataDir: cfg.Data}, sink)
	if err != nil {
		ln.Close()
		return fmt.Errorf("engine: %w", err)
	}
	log.Info("recording engine listening", "sip", eng.SIPAddr(), "trunk", cfg.Trunk, "rtp", fmt.Sprintf("%d-%d", cfg.RTPPorts[0], cfg.RTPPorts[1]))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	engDone := make(chan error, 1)
	go func() { engDone <- eng.Run(ctx) }()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	case runErr = <-engDone:
		engDone <- runErr
	}
	log.Info("shutting down")
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
		runErr = err
	}
	if err := <-engDone; err != nil && !errors.Is(err, context.Canceled) && runErr == nil {
		runErr = err
	}
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}

// bootstrap creates the platform admin on an empty database and, with --demo, the worked example.
func bootstrap(ctx context.Context, store *models.Store, cfg config, getenv func(string) string, stdout io.Writer) error {
	pw, created, err := store.EnsurePlatformAdmin(ctx, getenv("CALLREC_ADMIN_PASSWORD"))
	if err != nil {
		return fmt.Errorf("creating the platform administrator: %w", err)
	}
	if created {
		if getenv("CALLREC_ADMIN_PASSWORD") != "" {
			pw = "(from CALLREC_ADMIN_PASSWORD)"
		}
		fmt.Fprintf(stdout, "Created the platform administrator: user admin, password %s\n", pw)
	}
	if cfg.Demo {
		d, seeded, err := store.SeedDemo(ctx)
		if err != nil {
			return fmt.Errorf("seeding the demo: %w", err)
		}
		if seeded {
			fmt.Fprintf(stdout, "Demo customer 337826 with pool 4971121843140 created.\n  customer admin: user %s, password %s\n  agent:          user %s, password %s\n",
				d.Admin, d.AdminPassword, d.Agent, d.AgentPassword)
		}
	}
	return nil
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
