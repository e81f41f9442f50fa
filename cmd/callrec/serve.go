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
	"path/filepath"
	"sync"
	"time"

	"callrec/internal/enginestore"
	"callrec/internal/gctune"
	"callrec/internal/metrics"
	"callrec/internal/ratelimit"
	"callrec/internal/upload"
	"callrec/internal/webhooks"
	"callrec/media"
	"callrec/media/prompts"
	"callrec/models"
	"callrec/models/files"
	"callrec/web"
	"callrec/web/ftpd"
)

// serve runs the Control Panel, the recording engine and, when given addresses, FTPS and SFTP,
// until ctx ends; then it stops them in order: front doors first, the engine (which ends its
// calls and closes their recordings) next, the call sink last so every event is stored.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	if err := checkClusterStorage(cfg); err != nil {
		return err
	}
	started := time.Now()
	log := newLogger(cfg.LogLevel, stdout)
	startPprof(getenv, log) // CALLREC_PPROF=host:port: profiler for the load benchmark (pprof.go)
	// GOGC=50 (unless set): recorder rings are long-lived and Go's default lets the heap grow
	// to twice them; with a floor (gctune.Floor) so that a small heap is not collected many
	// times a second under page load (internal/gctune, BENCHMARKS.md).
	defer gctune.Serve(getenv)()
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
	if cfg.Cluster.clustered() {
		// What this node repairs, interrupts and uploads from here on is its own.
		store.NodeID = cfg.Cluster.NodeID
		if err := claimNode(ctx, store, cfg.Cluster, started, log); err != nil {
			return err
		}
	}
	if err := enginestore.InstallDefaultPrompts(cfg.Data); err != nil {
		return fmt.Errorf("installing the standard announcements: %w", err)
	}
	if err := enginestore.RepairRecordings(ctx, store, cfg.Data, log); err != nil {
		return fmt.Errorf("repairing recordings after a crash: %w", err)
	}
	spool, err := files.NewLocal(cfg.Data)
	if err != nil {
		return err
	}
	defer spool.Close()
	storage, err := openStorage(ctx, cfg.Storage, spool, getenv)
	if err != nil {
		return err
	}
	uploader := upload.New(store, spool, storage, log)
	// What the front doors read: recordings still in the spool, then the storage.
	view := files.NewSpooled(spool, storage)
	dir := enginestore.Directory{Store: store, DataDir: cfg.Data, Routes: &enginestore.Routes{}}
	if storage != files.Storage(spool) {
		if dir.Prompts, err = files.NewPromptCache(filepath.Join(cfg.Data, "prompt-cache"), storage); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	goRun := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}

	ftps, sftps, err := fileServers(cfg, store, view, log)
	if err != nil {
		return err
	}
	sink := enginestore.NewSink(log)
	// Call events the database could not take before a stop are saved at the next start.
	sink.Pending = filepath.Join(cfg.Data, "pending-call-events.json")
	var eng *media.Engine
	var mets *metrics.Metrics
	if cfg.Metrics != "" {
		mets = metrics.New(metrics.Sources{
			Calls: func() []media.CallInfo { return eng.Calls() },
			WebhookBacklog: func() (int64, error) {
				// A database that does not answer must not hang the scrape.
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				return store.PendingWebhookDeliveries(ctx)
			},
		})
		uploader.Observe = mets.Upload
	}
	trusted, err := cfg.SIPOptions.trustedNets() // checked by parseConfig
	if err != nil {
		closeAll(ftps, sftps)
		return err
	}
	mcfg := media.Config{
		SIPAddr: cfg.SIP, Trunk: cfg.Trunk, PublicIP: cfg.PublicIP, RTPPorts: cfg.RTPPorts,
		DataDir: cfg.Data, RingTimeout: cfg.RingTimeout, Logger: log,
		SIPUserAgent: cfg.SIPOptions.UserAgent, SIPTCPIdleTimeout: cfg.SIPOptions.TCPIdle,
		SIPTCPMessageTimeout: cfg.SIPOptions.TCPMessage, SIPTCPConnsPerSource: cfg.SIPOptions.TCPConnsPerSrc,
		SIPTrusted: trusted, SIPInviteRate: cfg.SIPOptions.InviteRate, SIPUnansweredPerSource: cfg.SIPOptions.UnansweredSrc,
		CallsPerPool: cfg.SIPOptions.CallsPerPool, CallsPerCustomer: cfg.SIPOptions.CallsPerCust,
	}
	if err := cfg.SIPOptions.Trunk.apply(&mcfg); err != nil {
		closeAll(ftps, sftps)
		return err
	}
	if mets != nil {
		mcfg.OnSIPRequest = mets.SIPRequest
	}
	if cfg.Cluster.clustered() {
		mcfg.ClaimRecordingPath = claimRecordingPath(store, cfg.Cluster.NodeID, log)
	}
	eng, err = media.New(mcfg, dir, sink)
	if err != nil {
		closeAll(ftps, sftps)
		return fmt.Errorf("engine: %w", err)
	}
	proxies, _ := parseCIDRs(cfg.TrustedProxies) // parseConfig checked them
	hooks := &webhooks.Worker{Store: store, BaseURL: cfg.PublicURL, LinkValidity: cfg.LinkValidity,
		AllowInsecure: cfg.WebhookAllowInsecure, Log: log}
	if mets != nil {
		hooks.Delivered = mets.WebhookDelivered
	}
	if cfg.WebhookAllowInsecure {
		log.Warn("--webhook-allow-insecure: webhooks may go to http:// and to loopback and private addresses")
	}
	wcfg := web.Config{DataDir: cfg.Data, Storage: view, SecureCookies: cfg.SecureCookies, TrustedProxies: proxies, MaxUpload: cfg.UploadLimit, Logger: log,
		MaxAnnouncement: cfg.MaxPrompt, DefaultPrompt: prompts.WAV, Speakable: prompts.Speakable, Engine: eng, EngineHealth: eng.Health,
		WebhookAllowInsecure: cfg.WebhookAllowInsecure, WebhookKick: hooks.Kick}
	if mets != nil {
		wcfg.ObserveRequest = mets.HTTPRequest
	}
	if ftps != nil {
		wcfg.FTPAddr = ftps.Addr()
	}
	if sftps != nil {
		wcfg.SFTPAddr, wcfg.SFTPFingerprint = sftps.Addr(), sftps.Fingerprint()
	}
	drainSw := newDrainSwitch()
	var srv *web.Server
	var cn *clusterNode
	if cfg.Cluster.clustered() {
		// Wake-ups from peers arrive only once the internal API serves (cn.run), after srv.
		cn, err = newCluster(cfg.Cluster, store, eng, started, func(c uint) { srv.CallChanged(media.CallInfo{CustomerID: c}) }, drainSw, log)
		if err != nil {
			closeAll(ftps, sftps)
			return err
		}
		defer cn.stop()
		wcfg.Engine, wcfg.Nodes, wcfg.NodeID = cn.node, cn.node, cfg.Cluster.NodeID
	}
	srv = web.New(wcfg, store)
	var live enginestore.Live = uploadKick{Live: srv, up: uploader}
	if cn != nil {
		live = liveFanout{live, cn.node}
		cn.run()
	}
	sink.Start(store, afterSave{next: live, hooks: hooks, metrics: mets})

	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		closeAll(ftps, sftps)
		return fmt.Errorf("http: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	log.Info("control panel listening", "url", "http://"+ln.Addr().String())
	log.Info("recording engine listening", "sip", eng.SIPAddr(), "trunk", cfg.Trunk, "rtp", fmt.Sprintf("%d-%d", cfg.RTPPorts[0], cfg.RTPPorts[1]))
	if host, _, _ := net.SplitHostPort(cfg.SIP); cfg.PublicIP == "" && (host == "" || host == "0.0.0.0" || host == "::") {
		log.Warn("SIP listens on all addresses but --public-ip is not set: SDP will name 127.0.0.1, which remote peers cannot reach")
	}

	goRun("http", func() error {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	engDone := make(chan struct{})
	go func() {
		defer close(engDone)
		if err := eng.Run(ctx); err != nil && ctx.Err() == nil {
			errc <- fmt.Errorf("engine: %w", err)
		}
	}()
	if ftps != nil {
		log.Info("FTPS listening", "addr", ftps.Addr())
		goRun("ftps", func() error { return ftps.Serve(ctx) })
	}
	if sftps != nil {
		log.Info("SFTP listening", "addr", sftps.Addr(), "host key", sftps.Fingerprint())
		goRun("sftp", func() error { return sftps.Serve(ctx) })
	}
	log.Info("recordings stored", "storage", storage.String())
	goRun("upload", func() error { uploader.Run(ctx); return nil })
	goRun("retention", func() error { runRetention(ctx, srv, store, cfg.Cluster, log); return nil })
	goRun("webhooks", func() error { hooks.Run(ctx); return nil })
	if mets != nil {
		run, err := serveMetrics(ctx, cfg.Metrics, mets, log)
		if err != nil {
			errc <- fmt.Errorf("metrics: %w", err)
		} else {
			goRun("metrics", run)
		}
	}

	readyBanner(stdout, "http://"+ln.Addr().String(), cfg)
	go func() {
		select {
		case <-drainRequested(ctx):
			drainSw.start()
		case <-ctx.Done():
		}
	}()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	case <-drainSw.ch:
		var spooled func() int
		if storage != files.Storage(spool) {
			spooled = spoolCount(cfg.Data, uploader)
		}
		runErr = drain(ctx, eng, cfg.Cluster.Drain, errc, spooled, log)
	}
	log.Info("shutting down")
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	srv.CloseStreams()
	_ = hs.Shutdown(sctx)
	closeAll(ftps, sftps)
	<-engDone
	wg.Wait()
	sink.Close()
	cn.stop() // after the last call is saved: the node leaves, no peer takes its calls over
	return runErr
}

// drain refuses new calls and waits until the calls in progress have ended and, with a bucket
// as the storage, until the spool holds no recording (spooled counts them; nil: the data folder
// is the storage), at most limit in all: a node that left with recordings in its spool would
// leave them unplayable on every other node until it is back. The panel, the uploads and the
// webhooks go on meanwhile (agents still start and stop recording). It returns early when ctx
// ends (SIGINT, a second SIGTERM) or a part fails.
func drain(ctx context.Context, eng *media.Engine, limit time.Duration, errc <-chan error, spooled func() int, log *slog.Logger) error {
	eng.Drain()
	log.Info("draining: new calls are refused, running calls go on", "calls", eng.Active(), "limit", limit)
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for eng.Active() > 0 {
		select {
		case <-ctx.Done():
			log.Warn("drain cut short: the remaining calls are hung up", "calls", eng.Active())
			return nil
		case err := <-errc:
			return err
		case <-deadline.C:
			log.Warn("drain timeout: the remaining calls are hung up", "calls", eng.Active(), "limit", limit)
			return nil
		case <-tick.C:
		}
	}
	log.Info("drained: no calls left")
	for waited := false; spooled != nil; waited = true {
		n := spooled()
		if n == 0 {
			if waited {
				log.Info("drained: the spool is uploaded")
			}
			return nil
		}
		if !waited {
			log.Info("draining: waiting for the spooled recordings' upload", "recordings", n)
		}
		select {
		case <-ctx.Done():
			log.Warn("drain cut short: recordings stay in the spool until this node is back", "recordings", n)
			return nil
		case err := <-errc:
			return err
		case <-deadline.C:
			log.Warn("drain timeout: recordings stay in the spool until this node is back", "recordings", n, "limit", limit)
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// fileServers creates (and binds) the FTPS and SFTP servers that have an address.
func fileServers(cfg config, store *models.Store, st files.Storage, log *slog.Logger) (*ftpd.FTPServer, *ftpd.SFTPServer, error) {
	var ftps *ftpd.FTPServer
	var sftps *ftpd.SFTPServer
	fails := ratelimit.New(5, 0) // one budget of failed logins across FTPS and SFTP
	if cfg.FTP != "" {
		ports, err := parsePorts(cfg.FTPPassive)
		if err != nil {
			return nil, nil, fmt.Errorf("--ftp-passive-ports: %w", err)
		}
		ftps, err = ftpd.NewFTPS(ftpd.Config{Addr: cfg.FTP, PassivePorts: ports, PublicHost: cfg.PublicIP, DataDir: cfg.Data, Storage: st,
			CertFile: cfg.FTPCert, KeyFile: cfg.FTPKey, Failures: fails, Logger: log}, store)
		if err == nil {
			err = ftps.Listen()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("ftps: %w", err)
		}
	}
	if cfg.SFTP != "" {
		var err error
		sftps, err = ftpd.NewSFTP(ftpd.Config{Addr: cfg.SFTP, DataDir: cfg.Data, Storage: st, Failures: fails, Logger: log}, store)
		if err == nil {
			err = sftps.Listen()
		}
		if err != nil {
			closeAll(ftps, nil)
			return nil, nil, fmt.Errorf("sftp: %w", err)
		}
	}
	return ftps, sftps, nil
}

func closeAll(ftps *ftpd.FTPServer, sftps *ftpd.SFTPServer) {
	if ftps != nil {
		_ = ftps.Close()
	}
	if sftps != nil {
		_ = sftps.Close()
	}
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

// readyBanner tells a person at the terminal where the panel is and how to sign in, once everything
// listens.
func readyBanner(w io.Writer, url string, cfg config) {
	fmt.Fprintf(w, "\ncallrec is ready: open %s\n", url)
	fmt.Fprintln(w, "  sign in as admin with the password printed at the first start (a new one: callrec user passwd admin)")
	if cfg.Demo {
		fmt.Fprintln(w, "  demo users: demo-admin (customer admin) and demo-agent, passwords printed when they were created")
		fmt.Fprintln(w, "  (a new one: callrec user passwd demo-admin)")
	}
	fmt.Fprintln(w, "  a test call through the engine: make call (or callrec testcall)")
	fmt.Fprintln(w)
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
