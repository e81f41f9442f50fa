package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"
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
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := "cr_" + hex.EncodeToString(b)
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
