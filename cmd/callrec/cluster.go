package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"callrec/internal/cluster"
	"callrec/internal/enginestore"
	"callrec/internal/upload"
	"callrec/media"
	"callrec/models"
	"callrec/web"
)

// clusterBeat and clusterTTL: a node renews its lease every 2 s and is lost after 6 s without
// (three missed beats), so a peer ends its calls within 8 s of its death.
const (
	clusterBeat = 2 * time.Second
	clusterTTL  = 3 * clusterBeat
)

// checkClusterStorage refuses a cluster whose recordings would lie on one node's disk: the
// other nodes could neither list them in full nor play them.
func checkClusterStorage(cfg config) error {
	if cfg.Cluster.clustered() && (cfg.Storage == "" || cfg.Storage == "file") {
		return errors.New("--cluster-addr needs --storage s3://BUCKET: with recordings on one node's disk the other nodes cannot serve them (README, \"Scale out\")")
	}
	return nil
}

// claimNode takes this node's lease before anything repairs or starts: a previous run of the
// same node id (killed a moment ago) is waited out until its lease runs out; a node of that
// id that goes on heartbeating is another process, and the start stops.
func claimNode(ctx context.Context, store *models.Store, cc clusterConfig, started time.Time, log *slog.Logger) error {
	deadline := time.Now().Add(clusterTTL + 2*clusterBeat)
	for {
		n, err := store.Node(ctx, cc.NodeID)
		if errors.Is(err, models.ErrNotFound) || (err == nil && (n.State != models.NodeUp || !n.ExpiresAt.After(store.Now()))) {
			break
		}
		if err != nil {
			return fmt.Errorf("cluster: reading node %s: %w", cc.NodeID, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("--node-id %s is in use by a running node at %s (last heartbeat %s): every node needs its own id",
				cc.NodeID, n.Addr, n.HeartbeatAt.Format(time.RFC3339))
		}
		log.Warn("waiting for the lease of this node id's previous run to run out", "node", cc.NodeID, "expires", n.ExpiresAt)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return store.Heartbeat(ctx, models.NodeBeat{ID: cc.NodeID, Addr: cc.Advertise, Version: cluster.Version(), Started: started}, clusterTTL)
}

// claimRecordingPath reserves recording names in the shared database, so two nodes never
// name two calls' files alike. When the database does not answer, the node's own folder
// decides (as on a single machine): the call goes on recording, and saving its row, not its
// audio, is what the outage puts at risk.
func claimRecordingPath(store *models.Store, node string, log *slog.Logger) func(string) bool {
	return func(rel string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ok, err := store.ClaimRecordingPath(ctx, rel, node)
		if err != nil {
			log.Warn("reserving a recording's name in the database failed; the node's folder alone decides", "path", rel, "err", err)
			return true
		}
		return ok
	}
}

// runRetention deletes expired recordings every hour. In a cluster only the node holding the
// "retention" lease does (renewed every minute; when its holder is gone another node takes it
// and runs at once, which is harmless: retention deletes only what is due).
func runRetention(ctx context.Context, srv *web.Server, store *models.Store, cc clusterConfig, log *slog.Logger) {
	if !cc.clustered() {
		srv.RunRetention(ctx, time.Hour)
		return
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	var last time.Time
	for {
		if ok, err := store.TakeLease(ctx, "retention", cc.NodeID, 3*time.Minute); err == nil && ok && time.Since(last) >= time.Hour {
			if n, err := srv.ApplyRetention(ctx); err != nil && ctx.Err() == nil {
				log.Error("retention", "err", err, "deleted", n)
			} else if n > 0 {
				log.Info("retention", "deleted", n)
			}
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// drainSwitch is the drain a SIGTERM or the Nodes page starts, once.
type drainSwitch struct {
	once sync.Once
	ch   chan struct{}
	on   atomic.Bool
}

func newDrainSwitch() *drainSwitch { return &drainSwitch{ch: make(chan struct{})} }

func (d *drainSwitch) start() { d.once.Do(func() { d.on.Store(true); close(d.ch) }) }

// clusterNode runs this node's membership: the internal API on --cluster-addr, the heartbeats
// and the take-over of lost peers, until stop is called (after the node's last calls are saved).
type clusterNode struct {
	node   *cluster.Node
	ln     net.Listener
	hs     *http.Server
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// newCluster binds the internal API and renews the lease once; run starts serving.
func newCluster(cc clusterConfig, store *models.Store, eng *media.Engine, started time.Time, live func(uint), drain *drainSwitch, log *slog.Logger) (*clusterNode, error) {
	server, client, err := clusterTLS(cc)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cc.Addr)
	if err != nil {
		return nil, fmt.Errorf("--cluster-addr: %w", err)
	}
	if server != nil {
		ln = tls.NewListener(ln, server)
	}
	n := cluster.New(cluster.Config{Store: store, Engine: eng, NodeID: cc.NodeID, Advertise: cc.Advertise, Secret: cc.Secret,
		Started: started, Beat: clusterBeat, TTL: clusterTTL, Live: live, Drain: drain.start, Draining: drain.on.Load, TLS: client, Log: log})
	if err := n.Beat(context.Background()); err != nil {
		ln.Close()
		return nil, fmt.Errorf("cluster heartbeat: %w", err)
	}
	log.Info("cluster node up", "node", cc.NodeID, "internal api", ln.Addr().String(), "advertised", cc.Advertise, "tls", server != nil)
	return &clusterNode{node: n, ln: ln, done: make(chan struct{}),
		hs: &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}}, nil
}

// clusterTLS is the internal API's TLS: the server's (this node's certificate) and the
// client's (the CA its peers' certificates must chain to, the system's by default; the peer's
// advertised host must be in its certificate). Both nil without --cluster-tls-cert.
func clusterTLS(cc clusterConfig) (server, client *tls.Config, err error) {
	if cc.TLSCert == "" {
		return nil, nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cc.TLSCert, cc.TLSKey)
	if err != nil {
		return nil, nil, fmt.Errorf("--cluster-tls-cert/--cluster-tls-key: %w", err)
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{MinVersion: tls.VersionTLS12}
	if cc.TLSCA != "" {
		pem, err := os.ReadFile(cc.TLSCA)
		if err != nil {
			return nil, nil, fmt.Errorf("--cluster-tls-ca: %w", err)
		}
		client.RootCAs = x509.NewCertPool()
		if !client.RootCAs.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("--cluster-tls-ca %s: no PEM certificate in it", cc.TLSCA)
		}
	}
	return server, client, nil
}

// run serves the internal API and heartbeats until stop.
func (c *clusterNode) run() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { _ = c.hs.Serve(c.ln) }()
	go func() { defer close(c.done); c.node.Run(ctx) }()
}

// stop ends the heartbeats and the internal API and marks the node as left.
// It runs once; serve's deferred call covers the returns on errors.
func (c *clusterNode) stop() {
	if c == nil {
		return
	}
	c.once.Do(func() {
		if c.cancel != nil {
			c.cancel()
			<-c.done
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.hs.Shutdown(ctx)
		_ = c.ln.Close()
		_ = c.node.Leave(ctx)
	})
}

// liveFanout passes the sink's events to this node's pages and to the peers' (via the node).
type liveFanout []enginestore.Live

func (f liveFanout) CallChanged(c media.CallInfo) {
	for _, l := range f {
		l.CallChanged(c)
	}
}

func (f liveFanout) CallEnded(c media.CallInfo) {
	for _, l := range f {
		l.CallEnded(c)
	}
}

// spoolCount counts the recordings in the spool of data (its call_recording folder; hidden
// names are temporary files), kicking the uploader while there are some: what a drained node
// waits for before it leaves.
func spoolCount(data string, up *upload.Uploader) func() int {
	root := filepath.Join(data, "call_recording")
	return func() int {
		n := 0
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".wav") && !strings.HasPrefix(d.Name(), ".") {
				n++
			}
			return nil
		})
		if n > 0 {
			up.Kick()
		}
		return n
	}
}
