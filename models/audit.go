package models

import (
	"context"
	"encoding/json"
	"time"
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
