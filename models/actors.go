package models

import (
	"gorm.io/gorm"
)

// Role is what a user may do.
type Role string

const (
	RolePlatformAdmin Role = "platform_admin" // runs the platform: customers, price list
	RoleCustomerAdmin Role = "customer_admin" // pools, users, modules, announcements of one customer
	RoleAgent         Role = "agent"          // live calls of one customer
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RolePlatformAdmin || r == RoleCustomerAdmin || r == RoleAgent
}

// Actor is who is asking: every scoped query takes one.
type Actor struct {
	UserID            uint
	Username          string
	CustomerID        uint // 0 for the platform admin
	Role              Role
	CanOpenRecordings bool
}

// ActorOf describes u as an Actor.
func ActorOf(u User) Actor {
	a := Actor{UserID: u.ID, Username: u.Username, Role: u.Role, CanOpenRecordings: u.CanOpenRecordings}
	if u.CustomerID != nil {
		a.CustomerID = *u.CustomerID
	}
	return a
}

// IsPlatformAdmin reports whether a runs the platform.
func (a Actor) IsPlatformAdmin() bool { return a.Role == RolePlatformAdmin }

// IsAdmin reports whether a may change a customer's configuration.
func (a Actor) IsAdmin() bool { return a.Role == RolePlatformAdmin || a.Role == RoleCustomerAdmin }

// MayOpenRecordings reports whether a is an "authorized person" for recordings.
func (a Actor) MayOpenRecordings() bool { return a.IsAdmin() || a.CanOpenRecordings }

// SeesDestinations reports whether a sees the destinations of calls in full: only those who may
// open recordings (a recording's name holds the destination too). Everybody else gets them
// masked (MaskNumber) in every answer: pool pages and the API, the call log, live calls, the
// recordings' paths.
func (a Actor) SeesDestinations() bool { return a.MayOpenRecordings() }

// customerScope limits a query on a table with customer_id to what a may see.
func (a Actor) customerScope(db *gorm.DB) *gorm.DB {
	if a.IsPlatformAdmin() {
		return db
	}
	return db.Where("customer_id = ?", a.CustomerID)
}

// MayDeleteRecordings reports whether a may delete recordings: customer admins only (the
// platform admin runs the platform, not the customer's archive).
func (a Actor) MayDeleteRecordings() bool { return a.Role == RoleCustomerAdmin }
