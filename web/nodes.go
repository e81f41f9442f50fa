package web

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/media"
	"callrec/models"
	"callrec/templates"
)

// NodeControl is what the Nodes page asks of the cluster (internal/cluster's Node has it):
// start the drain of a node, this one or a peer.
type NodeControl interface {
	DrainNode(ctx context.Context, id string) error
}

// nodesHandler is the platform admin's Nodes page and its API: every node of the cluster on
// this database, its state and calls, and a drain button; and this node's engine with its
// trunk registration. The platform admin's home shows the same rows.
type nodesHandler struct {
	store  *models.Store
	nodes  NodeControl // nil: this process runs alone
	nodeID string
	health func() media.Health // nil: no engine runs in this process
	views  views
}

// nodeJSON is a node in the API.
type nodeJSON struct {
	ID            string     `json:"id"`
	Addr          string     `json:"addr"`
	Version       string     `json:"version"`
	State         string     `json:"state"` // up, draining, down, left
	ActiveCalls   int        `json:"active_calls"`
	StartedAt     time.Time  `json:"started_at"`
	LastHeartbeat time.Time  `json:"last_heartbeat"`
	LeaseExpires  time.Time  `json:"lease_expires"`
	DownAt        *time.Time `json:"down_at,omitempty"`
	DownBy        string     `json:"down_by,omitempty"`
	This          bool       `json:"this"`
}

// nodeState is up, draining, down or left; a node whose lease ran out before a peer noticed
// is down already.
func nodeState(n models.Node, now time.Time) string {
	switch {
	case n.State == models.NodeUp && n.ExpiresAt.Before(now):
		return models.NodeDown
	case n.State == models.NodeUp && n.Draining:
		return "draining"
	}
	return n.State
}

func (h *nodesHandler) list(ctx context.Context, a models.Actor) ([]models.Node, error) {
	ns, err := h.store.Nodes(ctx, a)
	sort.SliceStable(ns, func(i, j int) bool { return ns[i].ID < ns[j].ID })
	return ns, err
}

func (h *nodesHandler) nodesPage(c echo.Context) error {
	ctx := c.Request().Context()
	ns, err := h.list(ctx, actorOf(c))
	if err != nil {
		return err
	}
	p := templates.NodesProps{Page: h.views.page(c, "nodes.title", "nodes"), Clustered: h.clustered(ns),
		Rows: h.rows(c, ns), Engine: h.engineState(c)}
	if c.QueryParam("error") == "unavailable" {
		p.Error = models.ErrNodeUnavailable.Key
	}
	return render(c, http.StatusOK, templates.NodesPage(p))
}

// clustered is true when this process is a node of a cluster or others share its database.
func (h *nodesHandler) clustered(ns []models.Node) bool { return h.nodes != nil || len(ns) > 0 }

// rows are the nodes as the Nodes page and the platform admin's home show them, times in the
// user's zone and language.
func (h *nodesHandler) rows(c echo.Context, ns []models.Node) []templates.NodeRow {
	now, loc, lang := time.Now(), userLocation(c), i18n.Lang(c.Request().Context())
	rows := make([]templates.NodeRow, 0, len(ns))
	for _, n := range ns {
		st := nodeState(n, now)
		rows = append(rows, templates.NodeRow{ID: n.ID, Addr: n.Addr, Version: n.Version, State: st, StateKey: "nodes.state_" + st,
			ActiveCalls: n.ActiveCalls, Heartbeat: i18n.DateTime(lang, n.HeartbeatAt.In(loc)), Ago: ago(now.Sub(n.HeartbeatAt)),
			Started: i18n.DateTime(lang, n.StartedAt.In(loc)), This: n.ID == h.nodeID,
			CanDrain: h.nodes != nil && st == models.NodeUp})
	}
	return rows
}

// engineState is this node's engine as the pages show it: its calls and the trunk
// registration (nil: no engine runs here).
func (h *nodesHandler) engineState(c echo.Context) *templates.EngineState {
	if h.health == nil {
		return nil
	}
	hl := h.health()
	loc, lang := userLocation(c), i18n.Lang(c.Request().Context())
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return i18n.DateTime(lang, t.In(loc))
	}
	r := hl.Registration
	return &templates.EngineState{Calls: hl.Calls, RegState: regState(r.State), Trunk: r.Trunk, Until: when(r.Expires),
		NextTry: when(r.NextTry), LastError: r.LastError, Failures: r.Failures}
}

// regState is a registration state the templates know (a new one reads as failed rather
// than as a missing translation).
func regState(s string) string {
	switch s {
	case media.RegOff, media.RegRegistering, media.RegRegistered:
		return s
	}
	return media.RegFailed
}

// ago is a duration as the page shows it: seconds under two minutes, minutes after.
func ago(d time.Duration) string {
	if d < 2*time.Minute {
		return (d.Round(time.Second)).String()
	}
	return (d.Round(time.Minute)).String()
}

func (h *nodesHandler) nodeDrain(c echo.Context) error {
	if err := h.drain(c); err != nil {
		if errors.Is(err, models.ErrNodeUnavailable) {
			return redirect(c, "/admin/nodes?error=unavailable")
		}
		return err
	}
	h.views.flash(c, "nodes.drain_started")
	return redirect(c, "/admin/nodes")
}

// drain starts the drain of the node named in the path, audited.
func (h *nodesHandler) drain(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	id := c.Param("id")
	ns, err := h.list(ctx, a)
	if err != nil {
		return err
	}
	var found *models.Node
	for i := range ns {
		if ns[i].ID == id {
			found = &ns[i]
		}
	}
	if found == nil || h.nodes == nil {
		return models.ErrNotFound
	}
	if nodeState(*found, time.Now()) != models.NodeUp {
		return models.ErrInvalidState
	}
	if err := h.nodes.DrainNode(ctx, id); err != nil {
		return models.ErrNodeUnavailable.With(err.Error())
	}
	_ = h.store.Audit(ctx, models.AuditEntry{Actor: a, IP: c.RealIP(), Kind: "node.drain", Object: "node " + id})
	return nil
}

func (h *nodesHandler) toJSON(n models.Node, now time.Time) nodeJSON {
	return nodeJSON{ID: n.ID, Addr: n.Addr, Version: n.Version, State: nodeState(n, now), ActiveCalls: n.ActiveCalls,
		StartedAt: n.StartedAt.UTC(), LastHeartbeat: n.HeartbeatAt.UTC(), LeaseExpires: n.ExpiresAt.UTC(), DownAt: n.DownAt,
		DownBy: n.DownBy, This: n.ID == h.nodeID}
}

func (h *nodesHandler) apiNodes(c echo.Context) error {
	ns, err := h.list(c.Request().Context(), actorOf(c))
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]nodeJSON, len(ns))
	for i, n := range ns {
		out[i] = h.toJSON(n, now)
	}
	body := map[string]any{"nodes": out, "this_node": h.nodeID}
	if h.health != nil {
		body["engine"] = h.health()
	}
	return c.JSON(http.StatusOK, body)
}

func (h *nodesHandler) apiNodeDrain(c echo.Context) error {
	if err := h.drain(c); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"node": c.Param("id"), "draining": true})
}
