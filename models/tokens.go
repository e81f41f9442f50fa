package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// APIToken authorises API calls as a user. Only a hash is stored: a leaked database leaks no tokens.
type APIToken struct {
	ID         uint   `gorm:"primaryKey"`
	UserID     uint   `gorm:"index;not null"`
	Name       string `gorm:"not null"`
	Hash       string `gorm:"uniqueIndex;not null"`
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// CreateAPIToken makes a new token for the named user and returns it; it is shown only once.
func (s *Store) CreateAPIToken(ctx context.Context, username, name string) (string, error) {
	u, err := s.UserByName(ctx, username)
	if err != nil {
		return "", err
	}
	tok, err := newToken()
	if err != nil {
		return "", err
	}
	if name == "" {
		name = "cli"
	}
	t := APIToken{UserID: u.ID, Name: name, Hash: tokenHash(tok)}
	return tok, s.db.WithContext(ctx).Create(&t).Error
}

// UserByToken resolves a bearer token to its (enabled) user.
func (s *Store) UserByToken(ctx context.Context, tok string) (User, error) {
	type token struct {
		ID         uint
		UserID     uint
		LastUsedAt *time.Time
	}
	hash := tokenHash(tok)
	t, err := cached(&s.cache, cacheKey{kind: cacheToken, s: hash}, func() (token, error) {
		var t token
		err := s.bounded(ctx).Model(&APIToken{}).Select("id, user_id, last_used_at").Where("hash = ?", hash).Take(&t).Error
		return t, notFound(err)
	})
	if err != nil {
		return User{}, err
	}
	now := s.Now()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute { // avoid a write per request
		s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ?", t.ID).Update("last_used_at", now)
	}
	return s.UserByID(ctx, t.UserID)
}

// Audit kinds of API tokens.
const (
	AuditTokenCreated = "token.created"
	AuditTokenRevoked = "token.revoked"
)

// MaxTokenName bounds a token's label.
const MaxTokenName = 100

// tokenOwner is the user whose tokens a asks about, when a may manage them: a's own, a user of
// a customer admin's customer, any user for the platform admin. Anything else is ErrNotFound,
// like a user that does not exist.
func (s *Store) tokenOwner(ctx context.Context, a Actor, userID uint) (User, error) {
	var u User
	if err := s.db.WithContext(ctx).First(&u, userID).Error; err != nil {
		return User{}, notFound(err)
	}
	switch {
	case u.ID == a.UserID && a.UserID != 0, a.IsPlatformAdmin():
	case a.Role == RoleCustomerAdmin && u.CustomerID != nil && *u.CustomerID == a.CustomerID:
	default:
		return User{}, ErrNotFound
	}
	return u, nil
}

func customerOf(u User) uint {
	if u.CustomerID == nil {
		return 0
	}
	return *u.CustomerID
}

// Tokens lists a user's API tokens (never their secret), newest first, for the user or an
// admin over them (tokenOwner).
func (s *Store) Tokens(ctx context.Context, a Actor, userID uint) ([]APIToken, error) {
	if _, err := s.tokenOwner(ctx, a, userID); err != nil {
		return nil, err
	}
	var ts []APIToken
	err := s.db.WithContext(ctx).Select("id, user_id, name, created_at, last_used_at").
		Where("user_id = ?", userID).Order("id DESC").Find(&ts).Error
	return ts, err
}

// CreateToken makes a new API token for a's own account and returns it; it is shown once.
func (s *Store) CreateToken(ctx context.Context, a Actor, ip, name string) (string, APIToken, error) {
	u, err := s.tokenOwner(ctx, a, a.UserID)
	if err != nil {
		return "", APIToken{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxTokenName {
		return "", APIToken{}, ValidationError{{"name", ErrRequired}}
	}
	tok, err := newToken()
	if err != nil {
		return "", APIToken{}, err
	}
	t := APIToken{UserID: u.ID, Name: name, Hash: tokenHash(tok)}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&t).Error; err != nil {
			return err
		}
		return s.auditIn(tx, AuditEntry{CustomerID: customerOf(u), Actor: a, IP: ip, Kind: AuditTokenCreated,
			Object: "token " + strconv.FormatUint(uint64(t.ID), 10), New: map[string]any{"user": u.Username, "name": name}})
	})
	t.Hash = ""
	return tok, t, err
}

// RevokeToken deletes one API token: its owner's, or an admin's over the owner (tokenOwner);
// owner, when not 0, is the user the token must belong to (a page about one user). A token a may
// not manage is ErrNotFound, like one that does not exist.
func (s *Store) RevokeToken(ctx context.Context, a Actor, ip string, owner, id uint) (APIToken, error) {
	var t APIToken
	if err := s.db.WithContext(ctx).Select("id, user_id, name, created_at, last_used_at").First(&t, id).Error; err != nil {
		return APIToken{}, notFound(err)
	}
	if owner != 0 && t.UserID != owner {
		return APIToken{}, ErrNotFound
	}
	u, err := s.tokenOwner(ctx, a, t.UserID)
	if err != nil {
		return APIToken{}, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Delete(&APIToken{}, t.ID).Error; err != nil {
			return err
		}
		return s.auditIn(tx, AuditEntry{CustomerID: customerOf(u), Actor: a, IP: ip, Kind: AuditTokenRevoked,
			Object: "token " + strconv.FormatUint(uint64(t.ID), 10), Old: map[string]any{"user": u.Username, "name": t.Name}})
	})
	return t, err
}

// revokeAllTokens deletes every token of a user inside tx (the user is disabled or deleted) and
// audits how many went.
func (s *Store) revokeAllTokens(tx *gorm.DB, a Actor, ip string, u User, why string) error {
	res := tx.Where("user_id = ?", u.ID).Delete(&APIToken{})
	if res.Error != nil || res.RowsAffected == 0 {
		return res.Error
	}
	return s.auditIn(tx, AuditEntry{CustomerID: customerOf(u), Actor: a, IP: ip, Kind: AuditTokenRevoked,
		Object: "user " + u.Username, New: map[string]any{"tokens": res.RowsAffected, "because": why}})
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "cr_" + hex.EncodeToString(b), nil
}
