package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"callrec/media"
	"callrec/models"
)

// Engine is what a node needs of its own recording engine (*media.Engine has it).
type Engine interface {
	Calls() []media.CallInfo
	Call(id string) (media.CallInfo, bool)
	StartRecording(id, by string) (media.CallInfo, error)
	StopRecording(id, by string) (media.CallInfo, error)
	Active() int
}

// Config is one node's part in the cluster.
type Config struct {
	Store     *models.Store
	Engine    Engine
	NodeID    string
	Advertise string // host:port the peers reach this node's internal API at; empty: alone
	Secret    string // shared by all nodes; signs every request between them
	Started   time.Time
	// Beat is how often the node renews its lease (default 2 s); TTL how long a lease runs
	// (default 3 beats): a node silent that long is lost and a peer ends its calls.
	Beat, TTL time.Duration
	// Live wakes this node's live-call pages for a customer whose calls changed on a peer.
	Live func(customer uint)
	// Drain starts this node's drain, as SIGTERM does (a platform admin's button on any node).
	Drain func()
	// Draining reports whether this node drains.
	Draining func() bool
	// TLS, when set, is how this node dials its peers' internal API: over TLS, their
	// certificates checked against its RootCAs (the peers serve TLS too: every node of a
	// cluster is configured alike). Nil: plain HTTP, for a private network.
	TLS *tls.Config
	Log *slog.Logger
}

// Node is this process's membership in the cluster: its lease, the take-over of lost peers,
// and the routing of live calls and start/stop to the node holding a call. It serves as the
// Control Panel's engine (web.LiveEngine): the calls of every node, controlled from here.
type Node struct {
	cfg    Config
	sign   *signer
	client *http.Client
	scheme string // of the peers' internal API: http:// or https://
	log    *slog.Logger

	peers atomic.Pointer[[]*peer] // live peers, from the last heartbeat
	mu    sync.Mutex
	known map[string]*peer // by node id: caches survive peer-list refreshes

	notify chan uint // customers whose calls changed here, for the peers
}

// Version is this build's version as the Nodes page shows it: the module version or the VCS
// revision the binary was built from.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			if v == "" || v == "(devel)" {
				v = s.Value[:12]
			}
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "+dirty"
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v
}

// New makes the node; Beat registers it, Run keeps it registered.
func New(cfg Config) *Node {
	if cfg.Beat <= 0 {
		cfg.Beat = 2 * time.Second
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 3 * cfg.Beat
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Draining == nil {
		cfg.Draining = func() bool { return false }
	}
	if cfg.Started.IsZero() {
		cfg.Started = time.Now()
	}
	n := &Node{cfg: cfg, sign: newSigner(cfg.Secret, cfg.NodeID), log: cfg.Log, known: map[string]*peer{},
		notify: make(chan uint, 1024),
		scheme: "http://",
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: 3 * time.Second,
			// Nodes dial each other by the address in the database, never through a proxy.
			Proxy:           nil,
			TLSClientConfig: cfg.TLS,
		}}}
	if cfg.TLS != nil {
		n.scheme = "https://"
	}
	empty := []*peer{}
	n.peers.Store(&empty)
	return n
}

// ID is this node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Beat renews this node's lease once and refreshes the list of live peers. serve calls it
// before the engine takes calls: a node must be registered before it has calls a peer could
// take over.
func (n *Node) Beat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Beat)
	defer cancel()
	err := n.cfg.Store.Heartbeat(ctx, models.NodeBeat{ID: n.cfg.NodeID, Addr: n.cfg.Advertise, Version: Version(),
		Started: n.cfg.Started, ActiveCalls: n.cfg.Engine.Active(), Draining: n.cfg.Draining()}, n.cfg.TTL)
	if err != nil {
		return err
	}
	nodes, err := n.cfg.Store.LiveNodes(ctx, false)
	if err != nil {
		return err
	}
	n.setPeers(nodes)
	return nil
}

func (n *Node) setPeers(nodes []models.Node) {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := make([]*peer, 0, len(nodes))
	seen := map[string]bool{}
	for _, m := range nodes {
		if m.ID == n.cfg.NodeID || m.Addr == "" {
			continue
		}
		p := n.known[m.ID]
		if p == nil || p.addr != m.Addr {
			p = &peer{id: m.ID, addr: m.Addr}
			n.known[m.ID] = p
		}
		seen[m.ID] = true
		list = append(list, p)
	}
	for id := range n.known {
		if !seen[id] {
			delete(n.known, id)
		}
	}
	n.peers.Store(&list)
}

// peer looks up a live peer by id.
func (n *Node) peer(id string) *peer {
	for _, p := range *n.peers.Load() {
		if p.id == id {
			return p
		}
	}
	return nil
}

// Run heartbeats, takes over lost peers and tells the peers of this node's call changes until
// ctx ends. It does not mark the node as left: Leave does, once the node's calls are saved.
func (n *Node) Run(ctx context.Context) {
	go n.notifier(ctx)
	t := time.NewTicker(n.cfg.Beat)
	defer t.Stop()
	g := reapGate{ttl: n.cfg.TTL}
	g.beat(true, time.Now()) // Beat ran once before Run
	for beats := 0; ; beats++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := n.Beat(ctx)
		if err != nil && ctx.Err() != nil {
			return
		}
		failing := g.failing
		reap := g.beat(err == nil, time.Now())
		switch {
		case err != nil && !failing:
			n.log.Warn("cluster heartbeat failed; peers take this node's calls over if it lasts", "err", err, "ttl", n.cfg.TTL)
		case err == nil && failing:
			n.log.Info("cluster heartbeat works again; taking over lost peers waits one lease", "ttl", n.cfg.TTL)
		}
		if err != nil {
			continue
		}
		if reap {
			n.reap(ctx)
		}
		if beats%300 == 0 { // about every 10 minutes at 2 s beats
			if err := n.cfg.Store.PruneRecordingPathClaims(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("pruning recording name reservations", "err", err)
			}
		}
	}
}

// reapGate decides when a node may take over lost peers. Only after its own heartbeats have
// worked for a whole lease: when the database was away for longer than a lease (a restart, a
// failover), every lease ran out meanwhile, and the first node back must not end the calls of
// peers that are alive and simply have not renewed yet. One lease after the database is back,
// every live node has renewed (it beats three times a lease); who has not is lost.
type reapGate struct {
	ttl     time.Duration
	since   time.Time // heartbeats work since then
	failing bool
}

// beat records a heartbeat's result at now and reports whether the node may reap.
func (g *reapGate) beat(ok bool, now time.Time) bool {
	switch {
	case !ok:
		g.failing = true
		return false
	case g.failing || g.since.IsZero():
		g.failing, g.since = false, now
	}
	return now.Sub(g.since) >= g.ttl
}

// reap ends the calls of peers whose lease ran out.
func (n *Node) reap(ctx context.Context) {
	got, err := n.cfg.Store.ReapNodes(ctx, n.cfg.NodeID)
	if err != nil && !errors.Is(err, context.Canceled) {
		n.log.Error("taking over lost nodes", "err", err)
	}
	for _, r := range got {
		n.log.Warn("node lost: its calls are ended as interrupted", "node", r.ID, "last heartbeat", r.LastHeartbeat, "calls", r.Calls)
		if n.cfg.Live != nil {
			for _, c := range r.Customers {
				n.cfg.Live(c)
			}
		}
	}
}

// Leave marks this node as gone on purpose: its peers do not report it lost.
func (n *Node) Leave(ctx context.Context) error {
	return n.cfg.Store.NodeLeaving(ctx, n.cfg.NodeID)
}

// CallChanged and CallEnded (enginestore.Live) tell the peers that a customer's calls changed
// here, so their live pages update. They never block: a full queue drops the wake-up (the next
// change brings the page up to date).
func (n *Node) CallChanged(c media.CallInfo) { n.queueNotify(c.CustomerID) }

// CallEnded: see CallChanged.
func (n *Node) CallEnded(c media.CallInfo) { n.queueNotify(c.CustomerID) }

func (n *Node) queueNotify(customer uint) {
	select {
	case n.notify <- customer:
	default:
	}
}

// notifier sends the queued wake-ups to every live peer, merged per round.
func (n *Node) notifier(ctx context.Context) {
	for {
		var first uint
		select {
		case <-ctx.Done():
			return
		case first = <-n.notify:
		}
		set := map[uint]bool{first: true}
	more:
		for len(set) < 256 {
			select {
			case c := <-n.notify:
				set[c] = true
			default:
				break more
			}
		}
		custs := make([]uint, 0, len(set))
		for c := range set {
			custs = append(custs, c)
		}
		var wg sync.WaitGroup
		for _, p := range *n.peers.Load() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				if err := n.call(cctx, p, http.MethodPost, "/cluster/v1/changed", changedBody{Customers: custs}, nil); err != nil && ctx.Err() == nil {
					n.log.Debug("telling a peer of call changes", "peer", p.id, "err", err)
				}
			}()
		}
		wg.Wait()
	}
}
