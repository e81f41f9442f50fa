package models

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"
)

// AuditEvent records who did what, when, from where, with the old and new values. Events are
// never changed or deleted by the product.
type AuditEvent struct {
	ID         uint      `gorm:"primaryKey"`
	CustomerID uint      `gorm:"index:idx_audit_customer_time,priority:1;index:idx_audit_customer_kind,priority:1"`
	At         time.Time `gorm:"index:idx_audit_customer_time,priority:2;index:idx_audit_customer_kind,priority:3;not null"`
	UserID     uint      // 0 for the system (retention job, engine)
	Username   string    // kept as text so the trail survives a renamed or deleted user
	IP         string
	Kind       string `gorm:"index:idx_audit_customer_kind,priority:2;not null"` // e.g. booking.created, recording.listened
	Object     string // what it concerns, e.g. "pool 3", a file path
	OldValue   string // JSON or text
	NewValue   string
}

// AuditEntry is what a feature reports; the store adds the time.
type AuditEntry struct {
	CustomerID uint
	Actor      Actor // zero Actor = system
	IP         string
	Kind       string
	Object     string
	Old, New   any // marshalled as JSON unless a string
}

func auditText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// Audit writes one audit event.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	name := e.Actor.Username
	if e.Actor.UserID == 0 && name == "" {
		name = "system"
	}
	return s.db.WithContext(ctx).Create(&AuditEvent{
		CustomerID: e.CustomerID, At: s.Now().UTC(), UserID: e.Actor.UserID, Username: name, IP: e.IP,
		Kind: e.Kind, Object: e.Object, OldValue: auditText(e.Old), NewValue: auditText(e.New),
	}).Error
}

// auditIn writes an audit event inside tx, so a change and its event commit together (s.Audit
// writes on its own connection, which would wait for tx's SQLite write lock).
func (s *Store) auditIn(tx *gorm.DB, e AuditEntry) error {
	name := e.Actor.Username
	if e.Actor.UserID == 0 && name == "" {
		name = "system"
	}
	return tx.Create(&AuditEvent{
		CustomerID: e.CustomerID, At: s.Now().UTC(), UserID: e.Actor.UserID, Username: name, IP: e.IP,
		Kind: e.Kind, Object: e.Object, OldValue: auditText(e.Old), NewValue: auditText(e.New),
	}).Error
}

// AuditFilter selects audit events. Zero fields do not filter.
type AuditFilter struct {
	CustomerID uint      // customer admins always see their own; the platform admin may pick one (0 = all)
	From       time.Time // inclusive
	To         time.Time // exclusive
	Kind       string    // exact kind, e.g. "booking.created"
}

// DefaultAuditPageSize is the page size when none is given; MaxAuditPageSize bounds it.
const (
	DefaultAuditPageSize = 50
	MaxAuditPageSize     = 500
)

// AuditPage is one page of audit events, newest first.
type AuditPage struct {
	Events  []AuditEvent
	Total   int64 // events matching the filter
	Page    int   // 1-based
	PerPage int
}

// Pages is the number of pages (at least 1).
func (p AuditPage) Pages() int {
	if p.PerPage <= 0 || p.Total == 0 {
		return 1
	}
	return int((p.Total + int64(p.PerPage) - 1) / int64(p.PerPage))
}

// auditQuery applies who may see what and the filter. Other audit readers (e.g. a CSV export)
// should build on it so they show exactly what the list shows.
func (s *Store) auditQuery(ctx context.Context, a Actor, f AuditFilter) (*gorm.DB, error) {
	if !a.IsAdmin() {
		return nil, ErrForbidden
	}
	q := s.db.WithContext(ctx).Model(&AuditEvent{})
	switch {
	case !a.IsPlatformAdmin():
		if f.CustomerID != 0 && f.CustomerID != a.CustomerID {
			return nil, ErrNotFound
		}
		q = q.Where("customer_id = ?", a.CustomerID)
	case f.CustomerID != 0:
		q = q.Where("customer_id = ?", f.CustomerID)
	}
	if !f.From.IsZero() {
		q = q.Where("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("at < ?", f.To.UTC())
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	return q, nil
}

// AuditEvents returns one page (1-based; perPage 0 = default) of the audit events a may see,
// newest first. Agents get ErrForbidden.
func (s *Store) AuditEvents(ctx context.Context, a Actor, f AuditFilter, page, perPage int) (AuditPage, error) {
	if perPage <= 0 {
		perPage = DefaultAuditPageSize
	}
	perPage = min(perPage, MaxAuditPageSize)
	page = max(page, 1)
	q, err := s.auditQuery(ctx, a, f)
	if err != nil {
		return AuditPage{}, err
	}
	out := AuditPage{Page: page, PerPage: perPage}
	if err := q.Count(&out.Total).Error; err != nil {
		return AuditPage{}, err
	}
	q, _ = s.auditQuery(ctx, a, f)
	err = q.Order("at DESC, id DESC").Limit(perPage).Offset((page - 1) * perPage).Find(&out.Events).Error
	return out, err
}

// EachAuditEvent calls fn for every event matching f, oldest first, in batches (for exports that
// must not hold the whole log in memory). fn's error stops the walk and is returned.
func (s *Store) EachAuditEvent(ctx context.Context, a Actor, f AuditFilter, fn func(AuditEvent) error) error {
	var last uint
	for {
		q, err := s.auditQuery(ctx, a, f)
		if err != nil {
			return err
		}
		var batch []AuditEvent
		if err := q.Where("id > ?", last).Order("id").Limit(500).Find(&batch).Error; err != nil {
			return err
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
			last = e.ID
		}
		if len(batch) < 500 {
			return nil
		}
	}
}

// AuditKinds lists the kinds that occur in the events a may see (for the filter's choices).
func (s *Store) AuditKinds(ctx context.Context, a Actor, customerID uint) ([]string, error) {
	q, err := s.auditQuery(ctx, a, AuditFilter{CustomerID: customerID})
	if err != nil {
		return nil, err
	}
	var kinds []string
	err = q.Distinct("kind").Order("kind").Pluck("kind", &kinds).Error
	return kinds, err
}
