package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Booking states as the pool page and the API show them.
const (
	StateNotBooked = "not_booked"
	StateBooked    = "booked"
	StateCancelled = "cancelled"
)

// ModuleBooking is one booking of a module. Every booking is a new row, so the history of
// bookings and cancellations stays; the newest row of (customer, pool, module) is the state.
type ModuleBooking struct {
	ID            uint   `gorm:"primaryKey"`
	CustomerID    uint   `gorm:"not null;index:idx_booking_module,priority:1"`
	PoolID        uint   `gorm:"not null;index:idx_booking_module,priority:2"` // 0 for customer-wide modules (FTP access)
	Module        string `gorm:"not null;index:idx_booking_module,priority:3"`
	BookedAt      time.Time
	BookedByID    uint
	BookedByName  string // kept as text: the fact survives a renamed or deleted user
	IP            string // client address of the booking request
	NoticeVersion string // sha256 (hex) of the exact legal notice text shown; "" when the module has none
	NoticeLang    string // language of that text
	PriceCents    int64  // monthly price at booking time
	Currency      string
	CancelledAt   *time.Time
	CancelledByID uint
	CancelledBy   string
}

// State is StateBooked or StateCancelled.
func (b ModuleBooking) State() string {
	if b.CancelledAt != nil {
		return StateCancelled
	}
	return StateBooked
}

// Active reports whether the booking is in force.
func (b ModuleBooking) Active() bool { return b.ID != 0 && b.CancelledAt == nil }

// Price formats the price at booking time, e.g. "19.90 EUR".
func (b ModuleBooking) Price() string {
	return PriceItem{MonthlyCents: b.PriceCents, Currency: b.Currency}.Price()
}

// NoticeVersion is the version of a legal notice: the sha256 of its exact text, in hex.
func NoticeVersion(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// LegalNotice is the notice a user was shown when booking, in the shown language.
type LegalNotice struct {
	Text     string
	Language string
}

// BookingInput is a booking request.
type BookingInput struct {
	Accepted bool        // the user confirmed the legal notice
	Notice   LegalNotice // what was shown (Call Recording only)
	IP       string
}

// CallRecording is a pool's module as the pool page and the API show it.
type CallRecording struct {
	Pool          Pool
	Booking       *ModuleBooking // newest booking, nil when never booked
	Settings      *CallRecordingSettings
	Announcements []Announcement
	Price         PriceItem // current price list entry
}

// State is StateNotBooked, StateBooked or StateCancelled.
func (c CallRecording) State() string { return stateOf(c.Booking) }

// Booked reports whether the module is in force.
func (c CallRecording) Booked() bool { return c.Booking != nil && c.Booking.Active() }

func stateOf(b *ModuleBooking) string {
	if b == nil {
		return StateNotBooked
	}
	return b.State()
}

// latestBooking returns the newest booking of a module, or nil.
func latestBooking(tx *gorm.DB, customerID, poolID uint, module string) (*ModuleBooking, error) {
	var bs []ModuleBooking
	err := tx.Where("customer_id = ? AND pool_id = ? AND module = ?", customerID, poolID, module).
		Order("id DESC").Limit(1).Find(&bs).Error
	if err != nil || len(bs) == 0 {
		return nil, err
	}
	return &bs[0], nil
}

func poolObject(id uint) string     { return "pool " + strconv.FormatUint(uint64(id), 10) }
func customerObject(id uint) string { return "customer " + strconv.FormatUint(uint64(id), 10) }

// bookingFacts is how a booking appears in the audit log.
func bookingFacts(b ModuleBooking) map[string]any {
	m := map[string]any{"module": b.Module, "booked_at": b.BookedAt, "booked_by": b.BookedByName,
		"price_cents": b.PriceCents, "currency": b.Currency}
	if b.PoolID != 0 {
		m["pool_id"] = b.PoolID
	}
	if b.NoticeVersion != "" {
		m["notice_version"], m["notice_language"] = b.NoticeVersion, b.NoticeLang
	}
	if b.CancelledAt != nil {
		m["cancelled_at"], m["cancelled_by"] = *b.CancelledAt, b.CancelledBy
	}
	return m
}

// CallRecordingOf returns a pool's Call Recording module.
func (s *Store) CallRecordingOf(ctx context.Context, a Actor, poolID uint) (CallRecording, error) {
	p, err := s.Pool(ctx, a, poolID)
	if err != nil {
		return CallRecording{}, err
	}
	db := s.db.WithContext(ctx)
	out := CallRecording{Pool: p}
	if out.Booking, err = latestBooking(db, p.CustomerID, p.ID, ModuleCallRecording); err != nil {
		return CallRecording{}, err
	}
	var st []CallRecordingSettings
	if err := db.Where("pool_id = ?", p.ID).Limit(1).Find(&st).Error; err != nil {
		return CallRecording{}, err
	}
	if len(st) == 1 {
		out.Settings = &st[0]
	}
	if out.Announcements, err = s.announcementsOf(ctx, p.ID); err != nil {
		return CallRecording{}, err
	}
	if out.Price, err = s.Price(ctx, ModuleCallRecording); err != nil {
		return CallRecording{}, err
	}
	return out, nil
}

// BookCallRecording books the Call Recording module for a pool. The legal notice must have been
// accepted; its exact text and language are kept as the notice version. Booking a booked module
// changes nothing and reports created=false. A first booking creates the default settings and the
// three announcements; booking again after a cancellation keeps both.
func (s *Store) BookCallRecording(ctx context.Context, a Actor, poolID uint, in BookingInput) (CallRecording, bool, error) {
	p, err := s.Pool(ctx, a, poolID)
	if err != nil {
		return CallRecording{}, false, err
	}
	if !a.IsAdmin() {
		return CallRecording{}, false, ErrForbidden
	}
	in.Notice.Text = strings.TrimSpace(in.Notice.Text)
	if !in.Accepted {
		return CallRecording{}, false, ValidationError{{"legal_notice_accepted", ErrLegalConfirmationRequired}}
	}
	if in.Notice.Text == "" {
		return CallRecording{}, false, errors.New("models: booking without the legal notice text")
	}
	created, err := s.book(ctx, a, p.CustomerID, p.ID, ModuleCallRecording, in, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&CallRecordingSettings{}).Where("pool_id = ?", p.ID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			def := DefaultCallRecordingSettings(p.ID)
			if err := tx.Create(&def).Error; err != nil {
				return err
			}
		}
		return s.ensureAnnouncements(tx, p.ID)
	})
	if err != nil {
		return CallRecording{}, false, err
	}
	cr, err := s.CallRecordingOf(ctx, a, poolID)
	return cr, created, err
}

// CancelCallRecording ends a pool's booking; recordings, settings and announcements stay. It
// reports whether a booking was in force (cancelling twice is not an error).
func (s *Store) CancelCallRecording(ctx context.Context, a Actor, poolID uint, ip string) (bool, error) {
	p, err := s.Pool(ctx, a, poolID)
	if err != nil {
		return false, err
	}
	if !a.IsAdmin() {
		return false, ErrForbidden
	}
	return s.cancel(ctx, a, p.CustomerID, p.ID, ModuleCallRecording, ip)
}

// book writes a new booking unless one is in force, runs extra in the same transaction and
// audits it there too, so there is never a booking without its audit event.
func (s *Store) book(ctx context.Context, a Actor, customerID, poolID uint, module string, in BookingInput, extra func(tx *gorm.DB) error) (bool, error) {
	price, err := s.Price(ctx, module)
	if err != nil {
		return false, err
	}
	created := false
	err = s.transaction(ctx, func(tx *gorm.DB) error {
		created = false
		if err := s.d.lock(tx, moduleLock(customerID, poolID, module)); err != nil {
			return err
		}
		cur, err := latestBooking(tx, customerID, poolID, module)
		if err != nil {
			return err
		}
		if cur != nil && cur.Active() {
			return nil
		}
		b := ModuleBooking{CustomerID: customerID, PoolID: poolID, Module: module, BookedAt: s.Now().UTC(),
			BookedByID: a.UserID, BookedByName: a.Username, IP: in.IP, PriceCents: price.MonthlyCents, Currency: price.Currency}
		if in.Notice.Text != "" {
			b.NoticeVersion, b.NoticeLang = NoticeVersion(in.Notice.Text), in.Notice.Language
		}
		if err := tx.Create(&b).Error; err != nil {
			return err
		}
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		created = true
		return s.auditIn(tx, AuditEntry{CustomerID: customerID, Actor: a, IP: in.IP, Kind: "booking.created",
			Object: moduleObject(module, customerID, poolID), New: bookingFacts(b)})
	})
	return created, err
}

func (s *Store) cancel(ctx context.Context, a Actor, customerID, poolID uint, module, ip string) (bool, error) {
	done := false
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		done = false
		if err := s.d.lock(tx, moduleLock(customerID, poolID, module)); err != nil {
			return err
		}
		cur, err := latestBooking(tx, customerID, poolID, module)
		if err != nil || cur == nil || !cur.Active() {
			return err
		}
		old := bookingFacts(*cur)
		now := s.Now().UTC()
		cur.CancelledAt, cur.CancelledByID, cur.CancelledBy = &now, a.UserID, a.Username
		if err := tx.Model(cur).Select("CancelledAt", "CancelledByID", "CancelledBy").Updates(cur).Error; err != nil {
			return err
		}
		done = true
		return s.auditIn(tx, AuditEntry{CustomerID: customerID, Actor: a, IP: ip, Kind: "booking.cancelled",
			Object: moduleObject(module, customerID, poolID), Old: old, New: bookingFacts(*cur)})
	})
	return done, err
}

// moduleLock is the lock of a module's bookings and settings (dialect.lock): a booking, a
// cancellation and a settings change of one module run one after the other.
func moduleLock(customerID, poolID uint, module string) string {
	return "module " + moduleObject(module, customerID, poolID)
}

func moduleObject(module string, customerID, poolID uint) string {
	if poolID != 0 {
		return module + " " + poolObject(poolID)
	}
	return module + " " + customerObject(customerID)
}
