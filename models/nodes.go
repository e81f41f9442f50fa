package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"callrec/calls"
)

// Node states as the nodes table holds them.
const (
	NodeUp   = "up"   // heartbeating; its lease runs
	NodeLeft = "left" // stopped on purpose (drained or shut down); its calls ended with it
	NodeDown = "down" // its lease ran out: a peer ended its open calls as interrupted
)

// Node is one process of a cluster on this database, as its last heartbeat described it. Each
// node renews its own row; a node whose row expired is taken over by a peer (ReapNodes).
type Node struct {
	ID          string `gorm:"primaryKey"` // --node-id
	Addr        string // where the other nodes reach its internal API; empty: alone
	Version     string
	State       string // NodeUp, NodeLeft, NodeDown
	Draining    bool
	ActiveCalls int
	StartedAt   time.Time
	HeartbeatAt time.Time
	ExpiresAt   time.Time
	// DownAt is when a peer found the lease run out; DownBy is that peer.
	DownAt *time.Time
	DownBy string
}

// NodeBeat is what a node says of itself every heartbeat.
type NodeBeat struct {
	ID, Addr, Version string
	Started           time.Time
	ActiveCalls       int
	Draining          bool
}

// Heartbeat renews node b's lease until now+ttl and records its state. A node that comes back
// after a peer marked it down is up again from here; the peer has ended its old calls.
func (s *Store) Heartbeat(ctx context.Context, b NodeBeat, ttl time.Duration) error {
	now := s.Now().UTC()
	n := Node{ID: b.ID, Addr: b.Addr, Version: b.Version, State: NodeUp, Draining: b.Draining, ActiveCalls: b.ActiveCalls,
		StartedAt: b.Started.UTC(), HeartbeatAt: now, ExpiresAt: now.Add(ttl)}
	return s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "id"}},
		DoUpdates: clause.Assignments(map[string]any{"addr": n.Addr, "version": n.Version, "state": NodeUp, "draining": n.Draining,
			"active_calls": n.ActiveCalls, "started_at": n.StartedAt, "heartbeat_at": now, "expires_at": n.ExpiresAt,
			"down_at": nil, "down_by": ""}),
	}).Create(&n).Error
}

// NodeLeaving marks node id as gone on purpose (its calls ended with its shutdown), so no peer
// reports it as lost.
func (s *Store) NodeLeaving(ctx context.Context, id string) error {
	now := s.Now().UTC()
	return s.db.WithContext(ctx).Model(&Node{}).Where("id = ?", id).
		Updates(map[string]any{"state": NodeLeft, "expires_at": now, "active_calls": 0}).Error
}

// Nodes lists every node the database knows, by id. Only the platform admin sees them.
func (s *Store) Nodes(ctx context.Context, a Actor) ([]Node, error) {
	if !a.IsPlatformAdmin() {
		return nil, ErrForbidden
	}
	return s.LiveNodes(ctx, true)
}

// LiveNodes lists the nodes (all of them, or only those whose lease runs), by id: for the
// nodes themselves, which ask their peers.
func (s *Store) LiveNodes(ctx context.Context, all bool) ([]Node, error) {
	var ns []Node
	q := s.db.WithContext(ctx).Order("id")
	if !all {
		q = q.Where("state = ? AND expires_at >= ?", NodeUp, s.Now().UTC())
	}
	return ns, q.Find(&ns).Error
}

// Node loads one node (ErrNotFound when none).
func (s *Store) Node(ctx context.Context, id string) (Node, error) {
	var n Node
	return n, notFound(s.db.WithContext(ctx).Where("id = ?", id).First(&n).Error)
}

// CallNode names the node that holds the call with engine id (ErrNotFound when no call has it).
func (s *Store) CallNode(ctx context.Context, engineID string) (string, error) {
	var c Call
	err := s.bounded(ctx).Select("node_id").Where("engine_id = ?", engineID).First(&c).Error
	return c.NodeID, notFound(err)
}

// ReapedNode is a node that ReapNodes found lost and whose calls it ended.
type ReapedNode struct {
	ID            string
	LastHeartbeat time.Time
	Calls         int
	Customers     []uint // whose calls they were (their live pages change)
}

// AuditCallInterrupted is the audit kind of a call a peer ended because its node was lost.
const AuditCallInterrupted = "call.interrupted"

// ReapNodes takes over every node whose lease ran out: the node is marked down, and each call
// it left open is ended as interrupted at the node's last heartbeat (the last moment it is known
// to have run), with its recording marked interrupted, a node_lost entry in its trail, an audit
// event and its webhooks. by is the node doing it. A conditional update decides which peer
// reaps a node, so two peers never both do; a node that heartbeats again in between is not
// reaped (the update finds its lease running).
func (s *Store) ReapNodes(ctx context.Context, by string) ([]ReapedNode, error) {
	now := s.Now().UTC()
	var lost []Node
	if err := s.db.WithContext(ctx).Where("state = ? AND expires_at < ? AND id <> ?", NodeUp, now, by).Find(&lost).Error; err != nil {
		return nil, err
	}
	var out []ReapedNode
	for _, n := range lost {
		r := ReapedNode{ID: n.ID, LastHeartbeat: n.HeartbeatAt}
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			res := tx.Model(&Node{}).Where("id = ? AND state = ? AND expires_at < ?", n.ID, NodeUp, now).
				Updates(map[string]any{"state": NodeDown, "down_at": now, "down_by": by, "active_calls": 0})
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			var open []Call
			// Calls that arrived after the lease ran out are no calls of this node's old life
			// (none should exist: a node heartbeats before it takes calls).
			if err := tx.Where("node_id = ? AND ended IS NULL AND arrival <= ?", n.ID, n.ExpiresAt).Find(&open).Error; err != nil {
				return err
			}
			for _, c := range open {
				if err := s.interruptLost(tx, c, n, by); err != nil {
					return fmt.Errorf("call %d: %w", c.ID, err)
				}
			}
			r.Calls = len(open)
			seen := map[uint]bool{}
			for _, c := range open {
				if !seen[c.CustomerID] {
					seen[c.CustomerID] = true
					r.Customers = append(r.Customers, c.CustomerID)
				}
			}
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("models: taking over node %s: %w", n.ID, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// interruptLost ends one call of lost node n inside tx.
func (s *Store) interruptLost(tx *gorm.DB, c Call, n Node, by string) error {
	end := n.HeartbeatAt.UTC()
	if end.Before(c.Arrival) {
		end = c.Arrival
	}
	var dur time.Duration
	if c.Bridged != nil && end.After(*c.Bridged) {
		dur = end.Sub(*c.Bridged)
	}
	var rec Recording
	hasRec := tx.Where("call_id = ?", c.ID).First(&rec).Error == nil
	prevRec := ""
	if hasRec {
		prevRec = rec.Status
		if rec.Status == RecordingActive {
			// The file stays in the lost node's spool: its size and length are repaired and it
			// is uploaded when that node starts again with the same id (RepairRecordings).
			if err := tx.Model(&rec).Updates(map[string]any{"status": RecordingInterrupted,
				"failure": "node " + n.ID + " was lost during the call"}).Error; err != nil {
				return err
			}
		}
	}
	if err := tx.Model(&c).Updates(map[string]any{"state": calls.StateEnded, "outcome": OutcomeInterrupted, "ended": end,
		"duration_ms": dur.Milliseconds()}).Error; err != nil {
		return err
	}
	var seq int
	if err := tx.Model(&CallEvent{}).Where("call_id = ?", c.ID).Select("COALESCE(MAX(seq), -1) + 1").Scan(&seq).Error; err != nil {
		return err
	}
	detail := fmt.Sprintf("node %s: last heartbeat %s, taken over by %s", n.ID, n.HeartbeatAt.UTC().Format(time.RFC3339), by)
	if err := tx.Create(&CallEvent{CallID: c.ID, Seq: seq, At: end, OffsetMS: end.Sub(c.Arrival).Milliseconds(),
		Kind: string(calls.EventNodeLost), By: "system", Detail: detail}).Error; err != nil {
		return err
	}
	if err := s.auditIn(tx, AuditEntry{CustomerID: c.CustomerID, Kind: AuditCallInterrupted, Object: fmt.Sprintf("call %d", c.ID),
		New: map[string]any{"reason": "node_lost", "node": n.ID, "last_heartbeat": n.HeartbeatAt.UTC(), "by": by}}); err != nil {
		return err
	}
	if err := tx.First(&c, c.ID).Error; err != nil {
		return err
	}
	if !hasRec {
		return s.callEvents(tx, c, false, "", nil, nil)
	}
	if err := tx.First(&rec, rec.ID).Error; err != nil {
		return err
	}
	var f File
	if tx.First(&f, rec.FileID).Error != nil {
		return s.callEvents(tx, c, false, prevRec, &rec, nil)
	}
	return s.callEvents(tx, c, false, prevRec, &rec, &f)
}

// recPathLease is the prefix of the leases that reserve a recording's file name for one node.
const recPathLease = "recpath:"

// ClaimRecordingPath reserves the recording file name rel for node holder: the nodes share one
// storage, so a name free in one node's spool may be another's already (two calls in the same
// second). It is a lease (a day long; names carry the call's second, so none is wanted again)
// that nobody else holds, for a path no recording has yet.
func (s *Store) ClaimRecordingPath(ctx context.Context, rel, holder string) (bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Recording{}).Where("path = ?", rel).Count(&n).Error; err != nil || n > 0 {
		return false, err
	}
	return s.TakeLease(ctx, recPathLease+rel, holder, 24*time.Hour)
}

// PruneRecordingPathClaims deletes the name reservations that ran out.
func (s *Store) PruneRecordingPathClaims(ctx context.Context) error {
	return s.db.WithContext(ctx).Where("name LIKE ? AND expires_at < ?", recPathLease+"%", s.Now().UTC()).Delete(&Lease{}).Error
}

// ownCalls narrows a query of calls to this node's (and to rows from before clustering).
func (s *Store) ownCalls(q *gorm.DB) *gorm.DB {
	if s.NodeID == "" {
		return q
	}
	return q.Where("node_id IN ?", []string{s.NodeID, ""})
}

// LostRecordings lists this node's recordings that a peer marked interrupted while the node was
// lost and whose file is still in this node's spool: a restart repairs them (RepairedLost)
// before the uploader stores them.
func (s *Store) LostRecordings(ctx context.Context) ([]Recording, error) {
	if s.NodeID == "" {
		return nil, nil
	}
	var rs []Recording
	err := s.db.WithContext(ctx).Where("status = ? AND storage IN ? AND failure LIKE ?", RecordingInterrupted,
		[]string{StorageSpooled, StorageFailed}, "node % was lost during the call").
		Where("call_id IN (?)", s.db.Model(&Call{}).Select("id").Where("node_id = ?", s.NodeID)).Find(&rs).Error
	return rs, err
}

// RepairedLost records the repaired size and length of a lost node's recording; its call was
// ended by the peer already.
func (s *Store) RepairedLost(ctx context.Context, recID uint, size int64, dur time.Duration) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rec Recording
		if err := tx.First(&rec, recID).Error; err != nil {
			return notFound(err)
		}
		up := map[string]any{"size": size, "duration_ms": dur.Milliseconds()}
		if err := tx.Model(&rec).Updates(up).Error; err != nil {
			return err
		}
		return tx.Model(&File{}).Where("id = ?", rec.FileID).Updates(up).Error
	})
}
