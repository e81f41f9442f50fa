package models

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// User is a person who logs in. Platform admins have no customer.
type User struct {
	ID                uint  `gorm:"primaryKey"`
	CustomerID        *uint `gorm:"index"`
	Customer          *Customer
	Username          string `gorm:"uniqueIndex;not null"`
	PasswordHash      string `gorm:"not null"`
	Role              Role   `gorm:"not null"`
	CanOpenRecordings bool   // the product document's "authorized persons"
	Language          string // UI language; "" follows the customer's
	Disabled          bool
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

var usernameRE = regexp.MustCompile(`^[a-zA-Z0-9._@-]{3,64}$`)

func hashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(h), err
}

// dummyHash keeps the time of a login for an unknown user like that of a known one. Made on first
// use: hashing at start-up would slow every CLI command.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("callrec-timing-equaliser"), bcrypt.DefaultCost)
	return h
})

// GeneratePassword returns a random password of 20 characters.
func GeneratePassword() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:20]
}

func validatePassword(v *ValidationError, field, pw string) {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		v.add(field, ErrPasswordTooShort)
	} else if len(pw) > 72 { // bcrypt ignores bytes beyond 72
		v.add(field, ErrPasswordTooLong)
	}
}

// Authenticate checks a username and password. Disabled and unknown users get the same error.
func (s *Store) Authenticate(ctx context.Context, username, password string) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Preload("Customer").Where("username = ?", strings.TrimSpace(username)).First(&u).Error
	if err != nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return User{}, ErrInvalidCredentials
		}
		return User{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil || u.Disabled {
		return User{}, ErrInvalidCredentials
	}
	return u, nil
}

// UserByID loads an enabled user with its customer. Sessions and API tokens re-check their
// user on every request, so this is one prepared query instead of GORM's two with a preload.
func (s *Store) UserByID(ctx context.Context, id uint) (User, error) {
	u, err := cached(&s.cache, cacheKey{kind: cacheUser, id: id}, func() (User, error) {
		return s.enabledUser(ctx, "u.id = ?", id)
	})
	// The cached User's pointers stay the cache's.
	if u.CustomerID != nil {
		cid := *u.CustomerID
		u.CustomerID = &cid
	}
	if u.Customer != nil {
		c := *u.Customer
		u.Customer = &c
	}
	return u, err
}

// enabledUser reads the enabled user that where (on users u) selects, with its customer.
func (s *Store) enabledUser(ctx context.Context, where string, args ...any) (User, error) {
	var u User
	var cid sql.NullInt64
	var cname, csub, clang, czone sql.NullString
	var ccreated, cupdated sql.NullTime
	err := s.queryRow(ctx, `SELECT u.id, u.customer_id, u.username, u.password_hash, u.role,
		u.can_open_recordings, u.language, u.disabled, u.created_at, u.updated_at,
		c.id, c.name, c.subscriber_id, c.language, c.time_zone, c.created_at, c.updated_at
		FROM users u LEFT JOIN customers c ON c.id = u.customer_id WHERE `+where+` AND NOT u.disabled`, args...).
		Scan(&u.ID, &u.CustomerID, &u.Username, &u.PasswordHash, &u.Role, &u.CanOpenRecordings, &u.Language,
			&u.Disabled, &u.CreatedAt, &u.UpdatedAt, &cid, &cname, &csub, &clang, &czone, &ccreated, &cupdated)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	if cid.Valid {
		u.Customer = &Customer{ID: uint(cid.Int64), Name: cname.String, SubscriberID: csub.String, Language: clang.String,
			TimeZone: czone.String, CreatedAt: ccreated.Time, UpdatedAt: cupdated.Time}
	}
	return u, nil
}

// UserByName loads a user by name (CLI use).
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Preload("Customer").Where("username = ?", name).First(&u).Error
	return u, notFound(err)
}

// EnsurePlatformAdmin creates the user "admin" on an empty database. It returns the password it set
// (generated when password is empty) and whether it created the user.
//
// Processes starting at once on one empty database create it once: the first under the
// bootstrap lock, the others find it.
func (s *Store) EnsurePlatformAdmin(ctx context.Context, password string) (string, bool, error) {
	if password == "" {
		password = GeneratePassword()
	}
	var v ValidationError
	validatePassword(&v, "password", password)
	if err := v.err(); err != nil {
		return "", false, err
	}
	h, err := hashPassword(password)
	if err != nil {
		return "", false, err
	}
	created := false
	err = s.transaction(ctx, func(tx *gorm.DB) error {
		created = false
		if err := s.d.lock(tx, bootstrapLock); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&User{}).Count(&n).Error; err != nil || n > 0 {
			return err
		}
		created = true
		return tx.Create(&User{Username: "admin", PasswordHash: h, Role: RolePlatformAdmin}).Error
	})
	if err != nil || !created {
		return "", false, err
	}
	return password, true, nil
}

// bootstrapLock is held while the first start fills an empty database (the platform
// administrator, the demo).
const bootstrapLock = "bootstrap"

// UserInput is what the users form edits.
type UserInput struct {
	Username          string
	Password          string // only on create
	Role              Role
	CanOpenRecordings bool
	Disabled          bool
	Language          string
	IP                string // of the admin's request, for the audit trail
}

func (in *UserInput) validate(creating bool, a Actor) ValidationError {
	var v ValidationError
	in.Username = strings.TrimSpace(in.Username)
	if creating && !usernameRE.MatchString(in.Username) {
		v.add("username", ErrUsernameInvalid)
	}
	if creating {
		validatePassword(&v, "password", in.Password)
	}
	if in.Role != RoleCustomerAdmin && in.Role != RoleAgent {
		v.add("role", ErrRoleInvalid)
	}
	if in.Language != "" && !validLanguage(in.Language) {
		v.add("language", ErrLanguageInvalid)
	}
	return v
}

// Users lists the users of a customer.
func (s *Store) Users(ctx context.Context, a Actor, customerID uint) ([]User, error) {
	if !a.IsAdmin() || (!a.IsPlatformAdmin() && a.CustomerID != customerID) {
		return nil, ErrForbidden
	}
	var us []User
	err := s.db.WithContext(ctx).Where("customer_id = ?", customerID).Order("username").Find(&us).Error
	return us, err
}

// User loads one user of a's customer (any user for the platform admin).
func (s *Store) User(ctx context.Context, a Actor, id uint) (User, error) {
	if !a.IsAdmin() {
		return User{}, ErrForbidden
	}
	var u User
	err := a.customerScope(s.db.WithContext(ctx)).Preload("Customer").First(&u, id).Error
	return u, notFound(err)
}

// CreateUser adds a user to a customer.
func (s *Store) CreateUser(ctx context.Context, a Actor, customerID uint, in UserInput) (User, error) {
	if !a.IsAdmin() || (!a.IsPlatformAdmin() && a.CustomerID != customerID) {
		return User{}, ErrForbidden
	}
	v := in.validate(true, a)
	if v.Field("username") == "" {
		if e := s.nameTaken(ctx, a, "users", in.Username); e != nil {
			v.add("username", e)
		}
	}
	if err := v.err(); err != nil {
		return User{}, err
	}
	h, err := hashPassword(in.Password)
	if err != nil {
		return User{}, err
	}
	cid := customerID
	u := User{CustomerID: &cid, Username: in.Username, PasswordHash: h, Role: in.Role,
		CanOpenRecordings: in.CanOpenRecordings, Language: in.Language, Disabled: in.Disabled}
	if err := s.db.WithContext(ctx).Create(&u).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) { // taken between the check and the insert
			if e := s.nameTaken(ctx, a, "users", in.Username); e != nil {
				return User{}, ValidationError{{"username", e}}
			}
		}
		return User{}, err
	}
	return u, nil
}

// nameTaken is the answer to a login name (of table users or ftp_credentials) that a wants for
// a customer, when it is in use already: "taken" when a can see who holds it (a user of a's own
// customer, or anyone for the platform admin), otherwise the answer of an ill-formed name, so
// that one customer does not learn another's logins. Login names are global (a login names no
// customer), so a name held elsewhere stays refused; only the answer hides why. nil: free.
func (s *Store) nameTaken(ctx context.Context, a Actor, table, name string) *Error {
	var holder sql.NullInt64
	err := s.queryRow(ctx, "SELECT customer_id FROM "+table+" WHERE username = ?", name).Scan(&holder)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil, a.IsPlatformAdmin(), holder.Valid && uint(holder.Int64) == a.CustomerID && table == "users":
		return ErrUsernameTaken
	}
	return ErrUsernameInvalid
}

// UpdateUser changes role, permission, language and disabled state. An admin cannot disable or
// demote themselves, so a customer never loses its last way in by accident.
func (s *Store) UpdateUser(ctx context.Context, a Actor, id uint, in UserInput) (User, error) {
	u, err := s.User(ctx, a, id)
	if err != nil {
		return User{}, err
	}
	if u.Role == RolePlatformAdmin {
		return User{}, ErrForbidden
	}
	v := in.validate(false, a)
	if u.ID == a.UserID && (in.Disabled || in.Role != u.Role) {
		v.add("role", ErrCannotChangeSelf)
	}
	if err := v.err(); err != nil {
		return User{}, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&u).Select("Role", "CanOpenRecordings", "Disabled", "Language").
			Updates(User{Role: in.Role, CanOpenRecordings: in.CanOpenRecordings, Disabled: in.Disabled, Language: in.Language}).Error; err != nil {
			return err
		}
		if in.Disabled {
			// Enabling the user again must not bring back what was issued before.
			return s.revokeAllTokens(tx, a, in.IP, u, "user disabled")
		}
		return nil
	})
	return u, err
}

// AuditUserDeleted is the audit kind of a deleted user.
const AuditUserDeleted = "user.deleted"

// DeleteUser removes a user of a's customer (any customer's for the platform admin) with their
// API tokens; their sessions end at their next request (loadUser finds no user). Admins cannot
// delete themselves, and platform admins are not deleted here.
func (s *Store) DeleteUser(ctx context.Context, a Actor, ip string, id uint) error {
	u, err := s.User(ctx, a, id)
	if err != nil {
		return err
	}
	if u.Role == RolePlatformAdmin {
		return ErrForbidden
	}
	if u.ID == a.UserID {
		return ValidationError{{"delete", ErrCannotChangeSelf}}
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.revokeAllTokens(tx, a, ip, u, "user deleted"); err != nil {
			return err
		}
		if err := tx.Delete(&User{}, u.ID).Error; err != nil {
			return err
		}
		return s.auditIn(tx, AuditEntry{CustomerID: customerOf(u), Actor: a, IP: ip, Kind: AuditUserDeleted,
			Object: "user " + u.Username, Old: map[string]any{"role": u.Role, "can_open_recordings": u.CanOpenRecordings}})
	})
}

// ResetPassword sets a new password for a user of a's customer. When disabling or resetting, the
// user's sessions are revoked by the web layer.
func (s *Store) ResetPassword(ctx context.Context, a Actor, id uint, password string) error {
	u, err := s.User(ctx, a, id)
	if err != nil {
		return err
	}
	if u.Role == RolePlatformAdmin && !a.IsPlatformAdmin() {
		return ErrForbidden
	}
	return s.setPassword(ctx, u.ID, password)
}

func (s *Store) setPassword(ctx context.Context, userID uint, password string) error {
	var v ValidationError
	validatePassword(&v, "password", password)
	if err := v.err(); err != nil {
		return err
	}
	h, err := hashPassword(password)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).Update("password_hash", h).Error
}

// ChangePassword lets a user replace their own password after proving the old one.
func (s *Store) ChangePassword(ctx context.Context, userID uint, old, new string) error {
	var u User
	if err := s.db.WithContext(ctx).First(&u, userID).Error; err != nil {
		return notFound(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(old)) != nil {
		return ValidationError{{"old_password", ErrWrongPassword}}
	}
	var v ValidationError
	validatePassword(&v, "new_password", new)
	if err := v.err(); err != nil {
		return err
	}
	return s.setPassword(ctx, userID, new)
}

// SetUserLanguage stores a user's own UI language ("" follows the customer).
func (s *Store) SetUserLanguage(ctx context.Context, userID uint, lang string) error {
	if lang != "" && !validLanguage(lang) {
		return ValidationError{{"language", ErrLanguageInvalid}}
	}
	return s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).Update("language", lang).Error
}

func validLanguage(l string) bool { return l == "de" || l == "en" || l == "fr" }
