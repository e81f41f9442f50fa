package models

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookRetryWindow is how long a message is retried before it is marked failed.
const WebhookRetryWindow = 24 * time.Hour

// WebhookDelivery is one message to one endpoint: the outbox row, written in the same
// transaction as the change it reports, and afterwards its line in the endpoint's delivery log.
type WebhookDelivery struct {
	ID         uint   `gorm:"primaryKey"`
	EndpointID uint   `gorm:"not null;index:idx_webhook_deliveries_endpoint,priority:1"`
	CustomerID uint   `gorm:"not null"`
	MsgID      string `gorm:"uniqueIndex;not null"` // webhook-id: the receiver's idempotency key
	Event      string `gorm:"not null"`
	// Payload is the event's JSON (Standard Webhooks' type, timestamp, data), as of the event.
	// A recording's download link is added at each attempt, so it is fresh when it arrives.
	Payload     string    `gorm:"not null"`
	Status      string    `gorm:"not null;index:idx_webhook_deliveries_due,priority:1"`
	NextAttempt time.Time `gorm:"not null;index:idx_webhook_deliveries_due,priority:2"`
	GiveUpAt    time.Time `gorm:"not null"` // retried until then
	Attempts    int
	LastCode    int // HTTP status of the last attempt; 0 when it got none
	LastError   string
	LatencyMS   int64
	LastAttempt *time.Time
	DeliveredAt *time.Time
	CreatedAt   time.Time `gorm:"index:idx_webhook_deliveries_endpoint,priority:2"`
}

func newMsgID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "msg_" + hex.EncodeToString(b)
}

// WebhookEnvelope is the JSON every delivery carries.
type WebhookEnvelope struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// enqueueWebhooks writes one delivery of event for every enabled endpoint of the customer that
// subscribed to it, inside tx: the event and its messages commit together or not at all.
func (s *Store) enqueueWebhooks(tx *gorm.DB, customerID uint, event string, data any) error {
	if customerID == 0 {
		return nil
	}
	var eps []WebhookEndpoint
	if err := tx.Where("customer_id = ? AND enabled = ?", customerID, true).Find(&eps).Error; err != nil {
		return err
	}
	now := s.Now().UTC()
	var body []byte
	for _, e := range eps {
		if !e.Subscribed(event) {
			continue
		}
		if body == nil {
			var err error
			if body, err = json.Marshal(WebhookEnvelope{Type: event, Timestamp: now, Data: data}); err != nil {
				return err
			}
		}
		if err := tx.Create(&WebhookDelivery{EndpointID: e.ID, CustomerID: customerID, MsgID: newMsgID(), Event: event,
			Payload: string(body), Status: DeliveryPending, NextAttempt: now, GiveUpAt: now.Add(WebhookRetryWindow), CreatedAt: now}).Error; err != nil {
			return err
		}
	}
	return nil
}

// SendTestWebhook queues a webhook.test message to one endpoint, whatever it subscribed to.
func (s *Store) SendTestWebhook(ctx context.Context, a Actor, id uint) (WebhookDelivery, error) {
	e, err := s.Webhook(ctx, a, id)
	if err != nil {
		return WebhookDelivery{}, err
	}
	now := s.Now().UTC()
	body, _ := json.Marshal(WebhookEnvelope{Type: EventWebhookTest, Timestamp: now, Data: map[string]any{"endpoint_id": e.ID,
		"message": "A test event from callrec: this endpoint receives and verifies webhooks."}})
	d := WebhookDelivery{EndpointID: e.ID, CustomerID: e.CustomerID, MsgID: newMsgID(), Event: EventWebhookTest, Payload: string(body),
		Status: DeliveryPending, NextAttempt: now, GiveUpAt: now.Add(WebhookRetryWindow), CreatedAt: now}
	return d, s.db.WithContext(ctx).Create(&d).Error
}

// WebhookDeliveries is an endpoint's delivery log, newest first (at most limit).
func (s *Store) WebhookDeliveries(ctx context.Context, a Actor, endpointID uint, limit int) ([]WebhookDelivery, error) {
	if _, err := s.Webhook(ctx, a, endpointID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var out []WebhookDelivery
	err := s.db.WithContext(ctx).Where("endpoint_id = ?", endpointID).Order("created_at DESC, id DESC").Limit(limit).Find(&out).Error
	return out, err
}

// ResendWebhook sends a delivery again now, with the same webhook-id, and retries it for a new
// WebhookRetryWindow if that attempt fails.
func (s *Store) ResendWebhook(ctx context.Context, a Actor, endpointID, deliveryID uint) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("customer_id = ? AND endpoint_id = ?", a.CustomerID, endpointID).First(&d, deliveryID).Error; err != nil {
			return notFound(err)
		}
		now := s.Now().UTC()
		d.Status, d.NextAttempt, d.GiveUpAt = DeliveryPending, now, now.Add(WebhookRetryWindow)
		return tx.Save(&d).Error
	})
	return d, err
}

// DueDelivery is a delivery to attempt now, with its endpoint.
type DueDelivery struct {
	WebhookDelivery
	Endpoint WebhookEndpoint
}

// DueWebhookDeliveries lists up to limit pending deliveries whose time has come, to enabled
// endpoints, oldest first.
func (s *Store) DueWebhookDeliveries(ctx context.Context, limit int) ([]DueDelivery, error) {
	var ds []WebhookDelivery
	err := s.db.WithContext(ctx).Where("status = ? AND next_attempt <= ?", DeliveryPending, s.Now().UTC()).
		Order("next_attempt, id").Limit(limit).Find(&ds).Error
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	ids := make([]uint, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.EndpointID)
	}
	var eps []WebhookEndpoint
	if err := s.db.WithContext(ctx).Where("id IN ?", ids).Find(&eps).Error; err != nil {
		return nil, err
	}
	byID := make(map[uint]WebhookEndpoint, len(eps))
	for _, e := range eps {
		byID[e.ID] = e
	}
	out := make([]DueDelivery, 0, len(ds))
	for _, d := range ds {
		e, ok := byID[d.EndpointID]
		if !ok || !e.Enabled {
			// Its endpoint was deleted or switched off: nothing will ever send it.
			s.db.WithContext(ctx).Model(&WebhookDelivery{}).Where("id = ? AND status = ?", d.ID, DeliveryPending).
				Updates(map[string]any{"status": DeliveryFailed, "last_error": "endpoint disabled"})
			continue
		}
		out = append(out, DueDelivery{d, e})
	}
	return out, nil
}

// WebhookLogKept is how long delivered and failed messages stay in the delivery log.
const WebhookLogKept = 30 * 24 * time.Hour

// PruneWebhookDeliveries deletes delivered and failed messages older than WebhookLogKept, so
// the outbox does not grow without end; it returns how many went.
func (s *Store) PruneWebhookDeliveries(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Where("status <> ? AND created_at < ?", DeliveryPending, s.Now().UTC().Add(-WebhookLogKept)).
		Delete(&WebhookDelivery{})
	return res.RowsAffected, res.Error
}

// PendingWebhookDeliveries counts the messages still waiting (the webhook backlog metric).
func (s *Store) PendingWebhookDeliveries(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&WebhookDelivery{}).Where("status = ?", DeliveryPending).Count(&n).Error
	return n, err
}

// WebhookAttempt is the outcome of one attempt.
type WebhookAttempt struct {
	At      time.Time
	Code    int
	Err     string // empty on success
	Latency time.Duration
	// Next is when to try again after a failure; zero gives up (the message is failed).
	Next time.Time
}

// RecordWebhookAttempt stores an attempt's outcome on its delivery and its endpoint: success
// ends the endpoint's failing streak, a failure starts one, and an endpoint failing for
// WebhookFailingLimit is disabled with a notice (its pending messages are failed then). It
// says whether that attempt disabled the endpoint.
func (s *Store) RecordWebhookAttempt(ctx context.Context, d DueDelivery, r WebhookAttempt) (disabled bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		at := r.At.UTC()
		up := map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_code": r.Code, "last_error": r.Err,
			"latency_ms": r.Latency.Milliseconds(), "last_attempt": at}
		switch {
		case r.Err == "":
			up["status"], up["delivered_at"] = DeliveryDelivered, at
		case r.Next.IsZero():
			up["status"] = DeliveryFailed
		default:
			up["next_attempt"] = r.Next.UTC()
		}
		if err := tx.Model(&WebhookDelivery{}).Where("id = ?", d.ID).Updates(up).Error; err != nil {
			return err
		}
		var e WebhookEndpoint
		if err := tx.First(&e, d.EndpointID).Error; err != nil {
			return nil // deleted meanwhile
		}
		if r.Err == "" {
			if e.FailingSince != nil {
				return tx.Model(&e).Update("failing_since", nil).Error
			}
			return nil
		}
		if e.FailingSince == nil {
			return tx.Model(&e).Update("failing_since", at).Error
		}
		if e.Enabled && at.Sub(*e.FailingSince) >= WebhookFailingLimit {
			disabled = true
			if err := tx.Model(&e).Updates(map[string]any{"enabled": false, "disabled_at": at,
				"disabled": "every delivery failed for 3 days; last error: " + r.Err}).Error; err != nil {
				return err
			}
			return tx.Model(&WebhookDelivery{}).Where("endpoint_id = ? AND status = ?", e.ID, DeliveryPending).
				Updates(map[string]any{"status": DeliveryFailed, "last_error": "endpoint disabled"}).Error
		}
		return nil
	})
	return disabled, err
}

// Lease is a named job that one process of a cluster runs at a time (the webhook deliveries):
// the holder renews it before ExpiresAt; when it stops renewing, another process takes over.
type Lease struct {
	Name      string `gorm:"primaryKey"`
	Holder    string `gorm:"not null"`
	ExpiresAt time.Time
}

// TakeLease makes holder the holder of name until now+ttl if nobody else holds it (or their
// lease ran out), or renews holder's own lease. It says whether holder holds it now.
func (s *Store) TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.Now().UTC()
	db := s.db.WithContext(ctx)
	res := db.Model(&Lease{}).Where("name = ? AND (holder = ? OR expires_at < ?)", name, holder, now).
		Updates(map[string]any{"holder": holder, "expires_at": now.Add(ttl)})
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	res = db.Clauses(clause.OnConflict{DoNothing: true}).Create(&Lease{Name: name, Holder: holder, ExpiresAt: now.Add(ttl)})
	return res.Error == nil && res.RowsAffected == 1, res.Error
}

// ReleaseLease gives up holder's lease so another process can take it at once.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.db.WithContext(ctx).Where("name = ? AND holder = ?", name, holder).Delete(&Lease{}).Error
}
