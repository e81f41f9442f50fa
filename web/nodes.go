package web

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/templates"
)

// NodeControl is what the Nodes page asks of the cluster (internal/cluster's Node has it):
// start the drain of a node, this one or a peer.
type NodeControl interface {
	DrainNode(ctx context.Context, id string) error
}

// nodesHandler is the platform admin's Nodes page and its API: every node of the cluster on
// this database, its state and calls, and a drain button.
type nodesHandler struct {
	store  *models.Store
	nodes  NodeControl // nil: this process runs alone
	nodeID string
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
	now := time.Now()
	p := templates.NodesProps{Page: h.views.page(c, "nodes.title", "nodes"), Clustered: h.nodes != nil || len(ns) > 0}
	if c.QueryParam("error") == "unavailable" {
		p.Error = models.ErrNodeUnavailable.Key
	}
	for _, n := range ns {
		st := nodeState(n, now)
		p.Rows = append(p.Rows, templates.NodeRow{ID: n.ID, Addr: n.Addr, Version: n.Version, State: st, StateKey: "nodes.state_" + st,
			ActiveCalls: n.ActiveCalls, Heartbeat: n.HeartbeatAt.UTC().Format(time.RFC3339), Ago: ago(now.Sub(n.HeartbeatAt)),
			Started: n.StartedAt.UTC().Format("2006-01-02 15:04:05Z"), This: n.ID == h.nodeID,
			CanDrain: h.nodes != nil && st == models.NodeUp})
	}
	return render(c, http.StatusOK, templates.NodesPage(p))
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
	return c.JSON(http.StatusOK, map[string]any{"nodes": out, "this_node": h.nodeID})
}

func (h *nodesHandler) apiNodeDrain(c echo.Context) error {
	if err := h.drain(c); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"node": c.Param("id"), "draining": true})
}
