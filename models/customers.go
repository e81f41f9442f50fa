package models

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// Customer is a customer of the call-tracking platform.
type Customer struct {
	ID           uint   `gorm:"primaryKey"`
	Name         string `gorm:"not null"`
	SubscriberID string `gorm:"uniqueIndex;not null"`
	Language     string `gorm:"not null;default:de"` // Control Panel language; decides the announcements' language
	TimeZone     string `gorm:"not null;default:Europe/Berlin"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Location is the customer's time zone (Europe/Berlin when unset or unknown). Zones are parsed
// once: the engine asks for every call.
func (c Customer) Location() *time.Location {
	name := c.TimeZone
	if name == "" {
		name = "Europe/Berlin"
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil && name != "Europe/Berlin" {
		return Customer{}.Location()
	}
	if err != nil { // no zone database at all (the binary embeds one; tests might not)
		return time.UTC
	}
	zones.Store(name, loc)
	return loc
}

// zones caches parsed time zones by name; time.Location values are immutable.
var zones sync.Map

var digitsRE = regexp.MustCompile(`^[0-9]+$`)

// CustomerInput is what the customer settings form edits.
type CustomerInput struct {
	Name         string
	SubscriberID string // set by the platform admin; read-only for the customer
	Language     string
	TimeZone     string
}

func (in *CustomerInput) validate() ValidationError {
	var v ValidationError
	in.Name = strings.TrimSpace(in.Name)
	in.SubscriberID = strings.TrimSpace(in.SubscriberID)
	in.TimeZone = strings.TrimSpace(in.TimeZone)
	if in.Name == "" || len(in.Name) > 200 {
		v.add("name", ErrRequired)
	}
	if !digitsRE.MatchString(in.SubscriberID) || len(in.SubscriberID) > 20 {
		v.add("subscriber_id", ErrDigitsOnly)
	}
	if !validLanguage(in.Language) {
		v.add("language", ErrLanguageInvalid)
	}
	if in.TimeZone == "" {
		in.TimeZone = "Europe/Berlin"
	}
	if _, err := time.LoadLocation(in.TimeZone); err != nil || strings.EqualFold(in.TimeZone, "local") {
		v.add("time_zone", ErrTimeZoneInvalid)
	}
	return v
}

// Customers lists all customers (platform admin only).
func (s *Store) Customers(ctx context.Context, a Actor) ([]Customer, error) {
	if !a.IsPlatformAdmin() {
		return nil, ErrForbidden
	}
	var cs []Customer
	err := s.db.WithContext(ctx).Order("name").Find(&cs).Error
	return cs, err
}

// Customer loads a customer a may see.
func (s *Store) Customer(ctx context.Context, a Actor, id uint) (Customer, error) {
	if !a.IsPlatformAdmin() && a.CustomerID != id {
		return Customer{}, ErrNotFound
	}
	var c Customer
	err := s.db.WithContext(ctx).First(&c, id).Error
	return c, notFound(err)
}

// CreateCustomer adds a customer (platform admin only).
func (s *Store) CreateCustomer(ctx context.Context, a Actor, in CustomerInput) (Customer, error) {
	if !a.IsPlatformAdmin() {
		return Customer{}, ErrForbidden
	}
	v := in.validate()
	if err := v.err(); err != nil {
		return Customer{}, err
	}
	c := Customer{Name: in.Name, SubscriberID: in.SubscriberID, Language: in.Language, TimeZone: in.TimeZone}
	if err := s.db.WithContext(ctx).Create(&c).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return Customer{}, ValidationError{{"subscriber_id", ErrSubscriberIDTaken}}
		}
		return Customer{}, err
	}
	return c, nil
}

// UpdateCustomer changes a customer's settings. Only the platform admin changes the subscriber ID,
// because recordings are filed under it.
func (s *Store) UpdateCustomer(ctx context.Context, a Actor, id uint, in CustomerInput) (Customer, error) {
	c, err := s.Customer(ctx, a, id)
	if err != nil {
		return Customer{}, err
	}
	if !a.IsAdmin() {
		return Customer{}, ErrForbidden
	}
	if !a.IsPlatformAdmin() {
		in.SubscriberID = c.SubscriberID
	}
	v := in.validate()
	if err := v.err(); err != nil {
		return Customer{}, err
	}
	c.Name, c.SubscriberID, c.Language, c.TimeZone = in.Name, in.SubscriberID, in.Language, in.TimeZone
	if err := s.db.WithContext(ctx).Save(&c).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return Customer{}, ValidationError{{"subscriber_id", ErrSubscriberIDTaken}}
		}
		return Customer{}, err
	}
	return c, nil
}

// CreateCustomerWithAdmin adds a customer and its first customer admin in one transaction, so a
// failed admin never leaves a customer nobody can log into.
func (s *Store) CreateCustomerWithAdmin(ctx context.Context, a Actor, in CustomerInput, admin UserInput) (Customer, error) {
	if !a.IsPlatformAdmin() {
		return Customer{}, ErrForbidden
	}
	v := in.validate()
	admin.Role = RoleCustomerAdmin
	for _, f := range admin.validate(true, a) {
		v.add("admin_"+f.Field, f.Err)
	}
	if err := v.err(); err != nil {
		return Customer{}, err
	}
	var c Customer
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		ts := s.in(tx)
		var err error
		if c, err = ts.CreateCustomer(ctx, a, in); err != nil {
			return err
		}
		if _, err = ts.CreateUser(ctx, a, c.ID, admin); err != nil {
			if ve, ok := err.(ValidationError); ok {
				for i := range ve {
					ve[i].Field = "admin_" + ve[i].Field
				}
				return ve
			}
		}
		return err
	})
	return c, err
}

// CustomersByID maps the customers a may see by id (the platform admin's lists show them).
func (s *Store) CustomersByID(ctx context.Context, a Actor) (map[uint]Customer, error) {
	var cs []Customer
	q := s.db.WithContext(ctx)
	if !a.IsPlatformAdmin() {
		q = q.Where("id = ?", a.CustomerID)
	}
	err := q.Find(&cs).Error
	out := make(map[uint]Customer, len(cs))
	for _, c := range cs {
		out[c.ID] = c
	}
	return out, err
}
