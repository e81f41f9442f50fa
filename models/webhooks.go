package models

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Webhook event types: what a customer's endpoint may subscribe to. EventWebhookTest is sent
// only by "send a test event", to the one endpoint, whatever it subscribed to.
const (
	EventRecordingCompleted = "recording.completed"
	EventRecordingFailed    = "recording.failed"
	EventRecordingDeleted   = "recording.deleted"
	EventCallEnded          = "call.ended"
	EventWebhookTest        = "webhook.test"
)

// WebhookEvents lists the events an endpoint may subscribe to, in the order the page shows them.
var WebhookEvents = []string{EventRecordingCompleted, EventRecordingFailed, EventRecordingDeleted, EventCallEnded}

// SecretRotationOverlap is how long the secret before a rotation still signs deliveries beside
// the new one, so receivers can switch without losing a message.
const SecretRotationOverlap = 24 * time.Hour

// WebhookFailingLimit is how long an endpoint may fail every delivery before it is disabled.
const WebhookFailingLimit = 72 * time.Hour

// WebhookEndpoint is a customer's receiver of webhook events.
type WebhookEndpoint struct {
	ID          uint   `gorm:"primaryKey"`
	CustomerID  uint   `gorm:"index;not null"`
	URL         string `gorm:"not null"`
	Description string
	Events      string `gorm:"not null"` // comma-separated WebhookEvents
	Enabled     bool   `gorm:"not null"`
	// Secret signs every delivery; PrevSecret (until PrevUntil) signs beside it after a rotation.
	Secret     string `gorm:"not null"`
	PrevSecret string
	PrevUntil  *time.Time
	// FailingSince is the first failed attempt after the last success (nil while it works);
	// Disabled says why the endpoint was turned off by the system (empty when a user did it).
	FailingSince *time.Time
	DisabledAt   *time.Time
	Disabled     string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// EventList is the subscribed events.
func (e WebhookEndpoint) EventList() []string {
	if e.Events == "" {
		return nil
	}
	return strings.Split(e.Events, ",")
}

// Subscribed says whether the endpoint wants event.
func (e WebhookEndpoint) Subscribed(event string) bool { return slices.Contains(e.EventList(), event) }

// Secrets are the secrets that sign a delivery at now: the current one and, during a rotation's
// overlap, the previous one.
func (e WebhookEndpoint) Secrets(now time.Time) []string {
	out := []string{e.Secret}
	if e.PrevSecret != "" && e.PrevUntil != nil && now.Before(*e.PrevUntil) {
		out = append(out, e.PrevSecret)
	}
	return out
}

// WebhookInput is what a user sets on an endpoint; nil fields stay as they are (updates).
type WebhookInput struct {
	URL         *string
	Description *string
	Events      []string // nil: unchanged
	Enabled     *bool
}

// WebhookURLPolicy says which endpoint URLs may be registered: https only unless AllowInsecure
// (tests, private networks). The address a URL resolves to is checked again at every delivery
// (internal/webhooks), so a name that later points inside is refused then.
type WebhookURLPolicy struct{ AllowInsecure bool }

// NewWebhookSecret makes a secret in the Standard Webhooks form: "whsec_" and base64 of 24
// random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func (p WebhookURLPolicy) check(raw string, v *ValidationError) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		v.add("url", ErrRequired)
	case err != nil || u.Host == "" || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || len(raw) > 2000:
		v.add("url", ErrWebhookURLInvalid)
	case u.Scheme == "http" && !p.AllowInsecure:
		v.add("url", ErrWebhookURLInsecure)
	default:
		if ip := net.ParseIP(u.Hostname()); ip != nil && !PublicAddress(ip, p.AllowInsecure) {
			v.add("url", ErrWebhookURLPrivate)
		}
	}
	return raw
}

// PublicAddress says whether a webhook may connect to ip: never to link-local (cloud metadata
// lives there), unspecified, multicast or broadcast addresses; to loopback and private
// networks only when allowInsecure.
func PublicAddress(ip net.IP, allowInsecure bool) bool {
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	switch {
	case ip.IsUnspecified(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsMulticast(),
		ip.IsInterfaceLocalMulticast(), ip.Equal(net.IPv4bcast):
		return false
	case ip.IsLoopback(), ip.IsPrivate(), inNets(ip, nonPublic):
		return allowInsecure
	}
	return true
}

// nonPublic are ranges that are neither the internet nor covered by net.IP's predicates.
var nonPublic = mustNets("0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4",
	"64:ff9b::/96", "::ffff:0:0/96")

func mustNets(cidrs ...string) []*net.IPNet {
	out := make([]*net.IPNet, len(cidrs))
	for i, c := range cidrs {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			panic(err)
		}
		out[i] = n
	}
	return out
}

func inNets(ip net.IP, nets []*net.IPNet) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func (s *Store) applyWebhookInput(e *WebhookEndpoint, in WebhookInput, p WebhookURLPolicy) error {
	var v ValidationError
	if in.URL != nil {
		e.URL = p.check(*in.URL, &v)
	}
	if in.Description != nil {
		e.Description = strings.TrimSpace(*in.Description)
		if len(e.Description) > 200 {
			v.add("description", ErrWebhookDescriptionTooLong)
		}
	}
	if in.Events != nil {
		var evs []string
		for _, ev := range WebhookEvents { // the declared order, each once
			if slices.Contains(in.Events, ev) {
				evs = append(evs, ev)
			}
		}
		for _, ev := range in.Events {
			if !slices.Contains(WebhookEvents, ev) {
				v.add("events", ErrWebhookEventInvalid)
				break
			}
		}
		if len(evs) == 0 && len(v.fieldsNamed("events")) == 0 {
			v.add("events", ErrWebhookEventsRequired)
		}
		e.Events = strings.Join(evs, ",")
	}
	if in.Enabled != nil {
		e.Enabled = *in.Enabled
		if e.Enabled {
			e.DisabledAt, e.Disabled, e.FailingSince = nil, "", nil
		}
	}
	return v.err()
}

func (v ValidationError) fieldsNamed(name string) []FieldError {
	var out []FieldError
	for _, f := range v {
		if f.Field == name {
			out = append(out, f)
		}
	}
	return out
}

// MaxWebhooksPerCustomer bounds a customer's endpoints (each event is sent to each of them).
const MaxWebhooksPerCustomer = 20

// CreateWebhook registers an endpoint for a's customer, enabled, with a new secret.
func (s *Store) CreateWebhook(ctx context.Context, a Actor, ip string, in WebhookInput, p WebhookURLPolicy) (WebhookEndpoint, error) {
	if !a.IsAdmin() || a.IsPlatformAdmin() {
		return WebhookEndpoint{}, ErrForbidden
	}
	e := WebhookEndpoint{CustomerID: a.CustomerID, Enabled: true, Secret: NewWebhookSecret()}
	if in.URL == nil {
		in.URL = new(string)
	}
	if in.Events == nil {
		in.Events = []string{}
	}
	if err := s.applyWebhookInput(&e, in, p); err != nil {
		return e, err
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&WebhookEndpoint{}).Where("customer_id = ?", a.CustomerID).Count(&n).Error; err != nil {
			return err
		}
		if n >= MaxWebhooksPerCustomer {
			return ErrTooManyWebhooks
		}
		if err := tx.Create(&e).Error; err != nil {
			return err
		}
		return s.auditIn(tx, AuditEntry{CustomerID: e.CustomerID, Actor: a, IP: ip, Kind: AuditWebhookCreated, Object: e.URL,
			New: map[string]any{"id": e.ID, "events": e.EventList()}})
	})
	return e, err
}

// Audit kinds of webhooks.
const (
	AuditWebhookCreated = "webhook.created"
	AuditWebhookUpdated = "webhook.updated"
	AuditWebhookDeleted = "webhook.deleted"
	AuditWebhookRotated = "webhook.secret_rotated"
)

// Webhooks lists the endpoints of a's customer.
func (s *Store) Webhooks(ctx context.Context, a Actor) ([]WebhookEndpoint, error) {
	var out []WebhookEndpoint
	err := s.db.WithContext(ctx).Where("customer_id = ?", a.CustomerID).Order("id").Find(&out).Error
	return out, err
}

// Webhook loads one endpoint of a's customer; another customer's is ErrNotFound.
func (s *Store) Webhook(ctx context.Context, a Actor, id uint) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	err := s.db.WithContext(ctx).Where("customer_id = ?", a.CustomerID).First(&e, id).Error
	return e, notFound(err)
}

// UpdateWebhook changes an endpoint's URL, description, events or enabled state.
func (s *Store) UpdateWebhook(ctx context.Context, a Actor, ip string, id uint, in WebhookInput, p WebhookURLPolicy) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("customer_id = ?", a.CustomerID).First(&e, id).Error; err != nil {
			return notFound(err)
		}
		old := map[string]any{"url": e.URL, "events": e.EventList(), "enabled": e.Enabled}
		if err := s.applyWebhookInput(&e, in, p); err != nil {
			return err
		}
		if err := tx.Save(&e).Error; err != nil {
			return err
		}
		return s.auditIn(tx, AuditEntry{CustomerID: e.CustomerID, Actor: a, IP: ip, Kind: AuditWebhookUpdated, Object: e.URL,
			Old: old, New: map[string]any{"url": e.URL, "events": e.EventList(), "enabled": e.Enabled}})
	})
	return e, err
}

// DeleteWebhook removes an endpoint and its delivery log.
func (s *Store) DeleteWebhook(ctx context.Context, a Actor, ip string, id uint) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var e WebhookEndpoint
		if err := tx.Where("customer_id = ?", a.CustomerID).First(&e, id).Error; err != nil {
			return notFound(err)
		}
		if err := tx.Where("endpoint_id = ?", e.ID).Delete(&WebhookDelivery{}).Error; err != nil {
			return err
		}
		if err := tx.Delete(&e).Error; err != nil {
			return err
		}
		return s.auditIn(tx, AuditEntry{CustomerID: e.CustomerID, Actor: a, IP: ip, Kind: AuditWebhookDeleted, Object: e.URL})
	})
}

// RotateWebhookSecret gives an endpoint a new secret; the old one keeps signing beside it for
// SecretRotationOverlap.
func (s *Store) RotateWebhookSecret(ctx context.Context, a Actor, ip string, id uint) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("customer_id = ?", a.CustomerID).First(&e, id).Error; err != nil {
			return notFound(err)
		}
		until := s.Now().UTC().Add(SecretRotationOverlap)
		e.PrevSecret, e.PrevUntil, e.Secret = e.Secret, &until, NewWebhookSecret()
		if err := tx.Save(&e).Error; err != nil {
			return err
		}
		return s.auditIn(tx, AuditEntry{CustomerID: e.CustomerID, Actor: a, IP: ip, Kind: AuditWebhookRotated, Object: e.URL})
	})
	return e, err
}
