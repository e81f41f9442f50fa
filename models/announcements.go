package models

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"

	"callrec/calls"
)

// Announcement slots of a pool's Call Recording module as the announcement rows hold them; the
// values are package calls' Slots.
const (
	SlotCallerNotice          = string(calls.SlotCallerNotice)
	SlotObjectionConfirmation = string(calls.SlotObjectionConfirmation)
	SlotCalleeWhisper         = string(calls.SlotCalleeWhisper)
)

// Slots lists the announcement slots in the order of a call (calls.Slots as strings).
var Slots = func() []string {
	out := make([]string, len(calls.Slots))
	for i, s := range calls.Slots {
		out[i] = string(s)
	}
	return out
}()

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
	Slot      string `gorm:"not null;uniqueIndex:idx_announcement_slot,priority:2"` // a calls.Slot
	Source    string `gorm:"not null;default:default"`
	TextDE    string
	TextEN    string
	AudioDE   string // rendered speech of TextDE (source text), path relative to the data folder
	AudioEN   string
	FileID    *uint // source file: the chosen File (announcement kind, same customer)
	UpdatedAt time.Time
}

// PromptLang is the announcements' language for a Control Panel language (calls.PromptLang):
// French uses English.
func PromptLang(customerLang string) string { return calls.PromptLang(customerLang) }

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

// MaxAnnouncementText is the longest announcement text in characters: a few sentences, read in
// well under a minute (the speech engine takes at most 2,000 bytes).
const MaxAnnouncementText = 600

// AnnouncementChange is a new source for one slot. For SourceText, Lang says which text is edited
// (the played one, "de" or "en"; the other is kept) and Audio is its rendered speech, already on
// disk under the customer's announcements/<sub>/tts/ folder. For SourceFile, FileID is a ready
// announcement file of the pool's customer.
type AnnouncementChange struct {
	Source string
	Lang   string
	Text   string
	Audio  string
	FileID uint
}

// CheckAnnouncementText validates an announcement text before it is rendered and returns it
// trimmed: not empty, at most MaxAnnouncementText characters, no control characters.
func CheckAnnouncementText(text string) (string, error) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	switch {
	case text == "":
		return "", ValidationError{{"text", ErrAnnouncementTextRequired}}
	case !utf8.ValidString(text) || utf8.RuneCountInString(text) > MaxAnnouncementText || len(text) > 2000:
		return "", ValidationError{{"text", ErrAnnouncementTextTooLong}}
	}
	for _, r := range text {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", ValidationError{{"text", ErrAnnouncementTextInvalid}}
		}
	}
	return text, nil
}

// validSlot reports whether slot is one of Slots.
func validSlot(slot string) bool { return calls.Slot(slot).Valid() }

// AnnouncementSlot loads a pool a may see and one of its announcement slots; an unknown slot, or
// a pool that never booked the module (no slots yet), is ErrNotFound.
func (s *Store) AnnouncementSlot(ctx context.Context, a Actor, poolID uint, slot string) (Pool, Announcement, error) {
	p, err := s.Pool(ctx, a, poolID)
	if err != nil {
		return Pool{}, Announcement{}, err
	}
	if !validSlot(slot) {
		return Pool{}, Announcement{}, ErrNotFound
	}
	var an Announcement
	err = s.db.WithContext(ctx).Where("pool_id = ? AND slot = ?", p.ID, slot).First(&an).Error
	return p, an, notFound(err)
}

// SetAnnouncement changes where a slot's audio comes from (admins only) and audits the change
// with the old and new values. It returns the slot before and after.
func (s *Store) SetAnnouncement(ctx context.Context, a Actor, ip string, poolID uint, slot string, ch AnnouncementChange) (old, cur Announcement, err error) {
	p, an, err := s.AnnouncementSlot(ctx, a, poolID, slot)
	if err != nil {
		return an, an, err
	}
	if !a.IsAdmin() {
		return an, an, ErrForbidden
	}
	old, cur = an, an
	switch ch.Source {
	case SourceDefault:
		cur.Source = SourceDefault
	case SourceText:
		text, err := CheckAnnouncementText(ch.Text)
		if err != nil {
			return old, old, err
		}
		sub := ""
		if p.Customer != nil {
			sub = p.Customer.SubscriberID
		}
		if sub == "" || !strings.HasPrefix(ch.Audio, AnnouncementFolder(sub)+"/tts/") || strings.Contains(ch.Audio, "..") {
			return old, old, errors.New("models: rendered announcement outside its customer's folder")
		}
		cur.Source = SourceText
		if ch.Lang == "de" {
			cur.TextDE, cur.AudioDE = text, ch.Audio
		} else {
			cur.TextEN, cur.AudioEN = text, ch.Audio
		}
	case SourceFile:
		var f File
		err := s.db.WithContext(ctx).Where("id = ? AND customer_id = ? AND kind = ?", ch.FileID, p.CustomerID, KindAnnouncement).First(&f).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return old, old, ValidationError{{"file_id", ErrFileUnknown}}
		} else if err != nil {
			return old, old, err
		}
		if !f.Ready {
			return old, old, ValidationError{{"file_id", ErrFileNotReady}}
		}
		cur.Source, cur.FileID = SourceFile, &f.ID
	default:
		return old, old, ValidationError{{"source", ErrSourceInvalid}}
	}
	err = s.transaction(ctx, func(tx *gorm.DB) error {
		if cur.Source == SourceFile {
			// The file checked above may have been deleted since (DeleteAnnouncementFile).
			if err := s.d.lock(tx, announcementFilesLock(p.CustomerID)); err != nil {
				return err
			}
			var n int64
			if err := tx.Model(&File{}).Where("id = ? AND customer_id = ? AND kind = ?", *cur.FileID, p.CustomerID, KindAnnouncement).
				Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return ValidationError{{"file_id", ErrFileUnknown}}
			}
		}
		if err := tx.Model(&Announcement{}).Where("id = ?", cur.ID).Updates(map[string]any{
			"source": cur.Source, "text_de": cur.TextDE, "text_en": cur.TextEN, "audio_de": cur.AudioDE,
			"audio_en": cur.AudioEN, "file_id": cur.FileID, "updated_at": s.Now(),
		}).Error; err != nil {
			return err
		}
		return s.in(tx).Audit(ctx, AuditEntry{CustomerID: p.CustomerID, Actor: a, IP: ip,
			Kind: "announcement.changed", Object: "pool " + strconv.FormatUint(uint64(p.ID), 10) + " " + slot,
			Old: announcementAudit(old), New: announcementAudit(cur)})
	})
	if err != nil {
		return old, old, err
	}
	cur.UpdatedAt = s.Now()
	return old, cur, nil
}

func announcementAudit(an Announcement) map[string]any {
	m := map[string]any{"source": an.Source, "text_de": an.TextDE, "text_en": an.TextEN}
	if an.FileID != nil {
		m["file_id"] = *an.FileID
	}
	return m
}

// PlayedAudio is what the engine plays for a slot in lang ("de" or "en", see PromptLang): a file
// path relative to the data folder, or "" for the shipped default prompt. A text whose speech
// for lang was never rendered (the customer's language changed since) and a chosen file that is
// gone fall back to the default too, so a call never meets silence.
func (s *Store) PlayedAudio(ctx context.Context, an Announcement, lang string) (string, error) {
	switch an.Source {
	case SourceText:
		if lang == "de" {
			return an.AudioDE, nil
		}
		return an.AudioEN, nil
	case SourceFile:
		if an.FileID == nil {
			return "", nil
		}
		var f File
		err := s.db.WithContext(ctx).Where("id = ? AND kind = ?", *an.FileID, KindAnnouncement).First(&f).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return "", nil
		}
		return f.Path, err
	}
	return "", nil
}

// AnnouncementAudio maps each slot of a pool to what PlayedAudio returns for lang: for the
// engine's Directory (not actor-scoped; the network asks). An unbooked pool gives an empty map.
func (s *Store) AnnouncementAudio(ctx context.Context, poolID uint, lang string) (map[string]string, error) {
	as, err := s.announcementsOf(ctx, poolID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(as))
	for _, an := range as {
		if out[an.Slot], err = s.PlayedAudio(ctx, an, lang); err != nil {
			return nil, err
		}
	}
	return out, nil
}
