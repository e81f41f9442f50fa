package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Announcement slots of a pool's Call Recording module.
const (
	SlotCallerNotice          = "caller_notice"
	SlotObjectionConfirmation = "objection_confirmation"
	SlotCalleeWhisper         = "callee_whisper"
)

// Slots lists the announcement slots in the order of a call.
var Slots = []string{SlotCallerNotice, SlotObjectionConfirmation, SlotCalleeWhisper}

// Announcement sources.
const (
	SourceDefault = "default" // the shipped standard prompt in the customer's language
	SourceText    = "text"    // an edited text, rendered to speech
	SourceFile    = "file"    // an uploaded file from the announcements folder
)

// Announcement is one slot of a pool: which audio the engine plays. Texts are kept in German and
// English (pre-filled with the standard texts at booking); the customer's Control Panel language
// decides which one is played (de -> German, everything else -> English).
type Announcement struct {
	ID        uint   `gorm:"primaryKey"`
	PoolID    uint   `gorm:"not null;uniqueIndex:idx_announcement_slot,priority:1"`
	Slot      string `gorm:"not null;uniqueIndex:idx_announcement_slot,priority:2"`
	Source    string `gorm:"not null;default:default"`
	TextDE    string
	TextEN    string
	AudioDE   string // rendered speech of TextDE (source text), path relative to the data folder
	AudioEN   string
	FileID    *uint // source file: the chosen File (announcement kind, same customer)
	UpdatedAt time.Time
}

// PromptLang is the announcements' language for a Control Panel language: French uses English.
func PromptLang(customerLang string) string {
	if customerLang == "de" {
		return "de"
	}
	return "en"
}

// ensureAnnouncements gives a pool its three slots with the standard texts, keeping slots that
// exist (a re-booking keeps the customer's edits).
func (s *Store) ensureAnnouncements(tx *gorm.DB, poolID uint) error {
	for _, slot := range Slots {
		var n int64
		if err := tx.Model(&Announcement{}).Where("pool_id = ? AND slot = ?", poolID, slot).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		a := Announcement{PoolID: poolID, Slot: slot, Source: SourceDefault,
			TextDE: s.DefaultAnnouncements(slot, "de"), TextEN: s.DefaultAnnouncements(slot, "en")}
		if err := tx.Create(&a).Error; err != nil {
			return err
		}
	}
	return nil
}

// EnsureAnnouncements pre-fills a pool's slots (called when the module is booked).
func (s *Store) EnsureAnnouncements(ctx context.Context, poolID uint) error {
	return s.ensureAnnouncements(s.db.WithContext(ctx), poolID)
}

// Announcements returns a pool's slots in call order (empty before the first booking).
func (s *Store) Announcements(ctx context.Context, a Actor, poolID uint) ([]Announcement, error) {
	if _, err := s.Pool(ctx, a, poolID); err != nil {
		return nil, err
	}
	return s.announcementsOf(ctx, poolID)
}

func (s *Store) announcementsOf(ctx context.Context, poolID uint) ([]Announcement, error) {
	var as []Announcement
	if err := s.db.WithContext(ctx).Where("pool_id = ?", poolID).Find(&as).Error; err != nil {
		return nil, err
	}
	out := make([]Announcement, 0, len(as))
	for _, slot := range Slots {
		for _, an := range as {
			if an.Slot == slot {
				out = append(out, an)
			}
		}
	}
	return out, nil
}
