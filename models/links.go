package models

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"

	"gorm.io/gorm/clause"
)

// ServerSecret is a secret of the installation, shared by every process on the database (the
// key that signs download links).
type ServerSecret struct {
	Name  string `gorm:"primaryKey"`
	Value []byte `gorm:"not null"`
}

const linkKeyName = "recording_links"

// DefaultLinkValidity is how long a signed download link works.
const DefaultLinkValidity = time.Hour

// linkKey is the download links' key, made on first use; every process reads the same row.
func (s *Store) linkKey(ctx context.Context) ([]byte, error) {
	if k := s.linkKeyCache.Load(); k != nil {
		return *k, nil
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	db := s.db.WithContext(ctx)
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&ServerSecret{Name: linkKeyName, Value: b}).Error; err != nil {
		return nil, err
	}
	var sec ServerSecret
	if err := db.First(&sec, "name = ?", linkKeyName).Error; err != nil {
		return nil, err
	}
	s.linkKeyCache.Store(&sec.Value)
	return sec.Value, nil
}

func linkMAC(key []byte, fileID uint, expires int64) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("recording-audio\x00" + strconv.FormatUint(uint64(fileID), 10) + "\x00" + strconv.FormatInt(expires, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// SignRecordingLink is the query of a download link for recording file fileID that works until
// expires: "expires=UNIX&sig=...".
func (s *Store) SignRecordingLink(ctx context.Context, fileID uint, expires time.Time) (string, error) {
	key, err := s.linkKey(ctx)
	if err != nil {
		return "", err
	}
	e := expires.Unix()
	return "expires=" + strconv.FormatInt(e, 10) + "&sig=" + linkMAC(key, fileID, e), nil
}

// CheckRecordingLink verifies a download link's expires and sig for fileID: ErrLinkInvalid for
// a signature that does not match, ErrLinkExpired after its time. A deleted recording's link
// finds no file (the caller's lookup answers ErrNotFound).
func (s *Store) CheckRecordingLink(ctx context.Context, fileID uint, expires, sig string) error {
	e, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || sig == "" {
		return ErrLinkInvalid
	}
	key, err := s.linkKey(ctx)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(sig), []byte(linkMAC(key, fileID, e))) {
		return ErrLinkInvalid
	}
	if s.Now().Unix() > e {
		return ErrLinkExpired
	}
	return nil
}

// LinkActor is who fetches a recording with a signed link: it may open the recordings of the
// file's customer and nothing else, and the audit trail names it.
func LinkActor(customerID uint) Actor {
	return Actor{Username: "signed link", CustomerID: customerID, Role: RoleAgent, CanOpenRecordings: true}
}

// RecordingFileCustomer is the customer of a recording file (0 when there is none), for a
// signed link, which names no user.
func (s *Store) RecordingFileCustomer(ctx context.Context, fileID uint) (uint, error) {
	var f File
	if err := s.bounded(ctx).Select("id, customer_id, kind").First(&f, fileID).Error; err != nil {
		return 0, notFound(err)
	}
	if f.Kind != KindRecording {
		return 0, ErrNotFound
	}
	return f.CustomerID, nil
}
