package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// FTPAccess is the customer-wide FTP access module.
type FTPAccess struct {
	CustomerID uint
	Booking    *ModuleBooking
	Price      PriceItem
}

// State is StateNotBooked, StateBooked or StateCancelled.
func (f FTPAccess) State() string { return stateOf(f.Booking) }

// Booked reports whether the module is in force.
func (f FTPAccess) Booked() bool { return f.Booking != nil && f.Booking.Active() }

// FTPAccessOf returns the customer's FTP access module.
func (s *Store) FTPAccessOf(ctx context.Context, a Actor, customerID uint) (FTPAccess, error) {
	c, err := s.Customer(ctx, a, customerID)
	if err != nil {
		return FTPAccess{}, err
	}
	out := FTPAccess{CustomerID: c.ID}
	if out.Booking, err = latestBooking(s.db.WithContext(ctx), c.ID, 0, ModuleFTPAccess); err != nil {
		return FTPAccess{}, err
	}
	if out.Price, err = s.Price(ctx, ModuleFTPAccess); err != nil {
		return FTPAccess{}, err
	}
	return out, nil
}

// BookFTPAccess books the customer-wide FTP access module (no legal notice).
func (s *Store) BookFTPAccess(ctx context.Context, a Actor, customerID uint, ip string) (FTPAccess, bool, error) {
	c, err := s.Customer(ctx, a, customerID)
	if err != nil {
		return FTPAccess{}, false, err
	}
	if !a.IsAdmin() {
		return FTPAccess{}, false, ErrForbidden
	}
	created, err := s.book(ctx, a, c.ID, 0, ModuleFTPAccess, BookingInput{Accepted: true, IP: ip}, nil)
	if err != nil {
		return FTPAccess{}, false, err
	}
	f, err := s.FTPAccessOf(ctx, a, customerID)
	return f, created, err
}

// CancelFTPAccess ends the customer's FTP access booking.
func (s *Store) CancelFTPAccess(ctx context.Context, a Actor, customerID uint, ip string) (bool, error) {
	c, err := s.Customer(ctx, a, customerID)
	if err != nil {
		return false, err
	}
	if !a.IsAdmin() {
		return false, ErrForbidden
	}
	return s.cancel(ctx, a, c.ID, 0, ModuleFTPAccess, ip)
}

// HasFTPAccess reports whether a customer has FTP access booked (for the FTPS/SFTP servers;
// not actor-scoped because the servers, not a user, ask).
func (s *Store) HasFTPAccess(ctx context.Context, customerID uint) (bool, error) {
	b, err := latestBooking(s.db.WithContext(ctx), customerID, 0, ModuleFTPAccess)
	return b != nil && b.Active(), err
}

// FTPCredential is the one login a customer has for FTPS and SFTP access to its recordings.
// It is separate from the Control Panel's users: a leaked FTP password opens recordings read-only
// and nothing else.
type FTPCredential struct {
	ID           uint   `gorm:"primaryKey"`
	CustomerID   uint   `gorm:"uniqueIndex;not null"`
	Username     string `gorm:"uniqueIndex;not null"`
	PasswordHash string `gorm:"not null"`
	SetBy        string // user name of the admin who last set it
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// FTPCredentialsInput is what the customer admin sets.
type FTPCredentialsInput struct {
	Username string
	Password string
}

// FTPAccount is who logged in over FTPS or SFTP, and so which folder they see.
type FTPAccount struct {
	CustomerID   uint
	SubscriberID string
	Username     string
}

// DefaultFTPUsername is the user name suggested before the admin chose one.
func DefaultFTPUsername(subscriberID string) string { return "ftp-" + subscriberID }

// FTPCredentials returns the customer's FTP login (without a usable password), or ErrNotFound
// when none is set. Another customer's is ErrNotFound too.
func (s *Store) FTPCredentials(ctx context.Context, a Actor, customerID uint) (FTPCredential, error) {
	if !a.IsPlatformAdmin() && a.CustomerID != customerID {
		return FTPCredential{}, ErrNotFound
	}
	var c FTPCredential
	err := s.db.WithContext(ctx).Where("customer_id = ?", customerID).First(&c).Error
	return c, notFound(err)
}

// SetFTPCredentials sets the customer's FTP user name and password (admins only). It reports
// whether the login was newly created. The change is audited without the password.
func (s *Store) SetFTPCredentials(ctx context.Context, a Actor, ip string, customerID uint, in FTPCredentialsInput) (FTPCredential, bool, error) {
	if !a.IsPlatformAdmin() && a.CustomerID != customerID {
		return FTPCredential{}, false, ErrNotFound
	}
	if !a.IsAdmin() {
		return FTPCredential{}, false, ErrForbidden
	}
	var v ValidationError
	in.Username = strings.TrimSpace(in.Username)
	if !usernameRE.MatchString(in.Username) {
		v.add("username", ErrUsernameInvalid)
	}
	validatePassword(&v, "password", in.Password)
	if err := v.err(); err != nil {
		return FTPCredential{}, false, err
	}
	hash, err := hashPassword(in.Password)
	if err != nil {
		return FTPCredential{}, false, err
	}
	var c FTPCredential
	created := false
	err = s.transaction(ctx, func(tx *gorm.DB) error {
		created = false
		// One customer's credentials are set one at a time (the first two would both insert).
		if err := s.d.lock(tx, "ftp credentials "+customerObject(customerID)); err != nil {
			return err
		}
		var cust Customer
		if err := tx.First(&cust, customerID).Error; err != nil {
			return notFound(err)
		}
		err := tx.Where("customer_id = ?", customerID).First(&c).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			created = true
			c = FTPCredential{CustomerID: customerID}
		} else if err != nil {
			return err
		}
		old := c.Username
		c.Username, c.PasswordHash, c.SetBy = in.Username, hash, a.Username
		if err := tx.Save(&c).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) { // another customer's login
				e := s.nameTaken(ctx, a, "ftp_credentials", in.Username)
				if e == nil {
					e = ErrUsernameInvalid
				}
				return ValidationError{{"username", e}}
			}
			return err
		}
		return s.auditIn(tx, AuditEntry{CustomerID: customerID, Actor: a, IP: ip, Kind: "ftp.credentials_set",
			Object: "ftp_access", Old: old, New: c.Username})
	})
	if err != nil {
		return FTPCredential{}, false, err
	}
	return c, created, nil
}

// AuthenticateFTP checks an FTP login. Unknown users and wrong passwords get the same error and
// take the same time. It does not check the booking: see FTPAccessBooked.
func (s *Store) AuthenticateFTP(ctx context.Context, username, password string) (FTPAccount, error) {
	var c FTPCredential
	err := s.db.WithContext(ctx).Where("username = ?", username).First(&c).Error
	if err != nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return FTPAccount{}, ErrInvalidCredentials
		}
		return FTPAccount{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(c.PasswordHash), []byte(password)) != nil {
		return FTPAccount{}, ErrInvalidCredentials
	}
	var cust Customer
	if err := s.db.WithContext(ctx).First(&cust, c.CustomerID).Error; err != nil {
		return FTPAccount{}, notFound(err)
	}
	return FTPAccount{CustomerID: cust.ID, SubscriberID: cust.SubscriberID, Username: c.Username}, nil
}

// FTPCustomerOf tells which customer an FTP user name belongs to (0 when none), so that failed
// logins can be audited for the customer they were aimed at.
func (s *Store) FTPCustomerOf(ctx context.Context, username string) uint {
	var c FTPCredential
	if s.db.WithContext(ctx).Select("customer_id").Where("username = ?", username).First(&c).Error != nil {
		return 0
	}
	return c.CustomerID
}
