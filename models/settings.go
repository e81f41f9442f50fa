package models

import (
	"context"
	"time"

	"gorm.io/gorm"

	"callrec/calls"
)

// Call Recording modes as the settings rows hold them; the values are package calls' Modes.
const (
	ModeAutomatic = string(calls.ModeAutomatic)
	ModeManual    = string(calls.ModeManual)
)

// Channel layouts of a recording.
const (
	ChannelsMono   = "mono"   // both directions mixed
	ChannelsStereo = "stereo" // caller left, callee right
)

// MaxRetentionDays bounds the retention setting (about ten years); 0 keeps recordings forever.
const MaxRetentionDays = 3650

// CallRecordingSettings are a pool's Call Recording options. They are created with the first
// booking and kept across cancellation, so booking again restores them.
type CallRecordingSettings struct {
	PoolID             uint `gorm:"primaryKey;autoIncrement:false"`
	Enabled            bool
	Mode               string `gorm:"not null"` // a calls.Mode
	CallerAnnouncement bool   // play the caller notice (and listen for "*")
	Channels           string `gorm:"not null"`
	RetentionDays      int    // 0 keeps recordings forever
	UpdatedAt          time.Time
}

// DefaultCallRecordingSettings is what a first booking starts with: on, automatic, the caller is
// told, stereo (caller and callee stay separable, a mono mix can always be made from it later),
// kept forever.
func DefaultCallRecordingSettings(poolID uint) CallRecordingSettings {
	return CallRecordingSettings{PoolID: poolID, Enabled: true, Mode: ModeAutomatic, CallerAnnouncement: true,
		Channels: ChannelsStereo}
}

// SettingsPatch changes some of a pool's Call Recording settings; nil fields stay.
type SettingsPatch struct {
	Enabled            *bool
	Mode               *string
	CallerAnnouncement *bool
	Channels           *string
	RetentionDays      *int
	IP                 string
}

// Validate checks the given fields; error keys are error.invalid_<field>.
func (p SettingsPatch) Validate() ValidationError {
	var v ValidationError
	if p.Mode != nil && !calls.Mode(*p.Mode).Valid() {
		v.add("mode", ErrInvalidMode)
	}
	if p.Channels != nil && *p.Channels != ChannelsMono && *p.Channels != ChannelsStereo {
		v.add("channels", ErrInvalidChannels)
	}
	if p.RetentionDays != nil && (*p.RetentionDays < 0 || *p.RetentionDays > MaxRetentionDays) {
		v.add("retention_days", ErrInvalidRetentionDays)
	}
	return v
}

// settingsValues is how settings appear in the audit log.
func settingsValues(st CallRecordingSettings) map[string]any {
	return map[string]any{"enabled": st.Enabled, "mode": st.Mode, "caller_announcement": st.CallerAnnouncement,
		"channels": st.Channels, "retention_days": st.RetentionDays}
}

// UpdateCallRecordingSettings changes a booked pool's settings. The audit event holds the old and
// new values of the fields that changed; a patch that changes nothing writes no event.
func (s *Store) UpdateCallRecordingSettings(ctx context.Context, a Actor, poolID uint, patch SettingsPatch) (CallRecordingSettings, error) {
	p, err := s.Pool(ctx, a, poolID)
	if err != nil {
		return CallRecordingSettings{}, err
	}
	if !a.IsAdmin() {
		return CallRecordingSettings{}, ErrForbidden
	}
	if err := patch.Validate().err(); err != nil {
		return CallRecordingSettings{}, err
	}
	var st CallRecordingSettings
	err = s.transaction(ctx, func(tx *gorm.DB) error {
		if err := s.d.lock(tx, moduleLock(p.CustomerID, p.ID, ModuleCallRecording)); err != nil {
			return err
		}
		cur, err := latestBooking(tx, p.CustomerID, p.ID, ModuleCallRecording)
		if err != nil {
			return err
		}
		if cur == nil || !cur.Active() {
			return ErrNotBooked
		}
		if err := tx.Where("pool_id = ?", p.ID).First(&st).Error; err != nil {
			return err
		}
		old := st
		if patch.Enabled != nil {
			st.Enabled = *patch.Enabled
		}
		if patch.Mode != nil {
			st.Mode = *patch.Mode
		}
		if patch.CallerAnnouncement != nil {
			st.CallerAnnouncement = *patch.CallerAnnouncement
		}
		if patch.Channels != nil {
			st.Channels = *patch.Channels
		}
		if patch.RetentionDays != nil {
			st.RetentionDays = *patch.RetentionDays
		}
		oldV, newV := settingsValues(old), settingsValues(st)
		for k := range oldV {
			if oldV[k] == newV[k] {
				delete(oldV, k)
				delete(newV, k)
			}
		}
		if len(newV) == 0 {
			return nil
		}
		st.UpdatedAt = s.Now().UTC()
		if err := tx.Model(&st).Select("Enabled", "Mode", "CallerAnnouncement", "Channels", "RetentionDays", "UpdatedAt").
			Updates(&st).Error; err != nil {
			return err
		}
		return s.auditIn(tx, AuditEntry{CustomerID: p.CustomerID, Actor: a, IP: patch.IP, Kind: "settings.changed",
			Object: moduleObject(ModuleCallRecording, p.CustomerID, p.ID), Old: oldV, New: newV})
	})
	return st, err
}

// RecordingPolicy is what the engine needs to know about a pool's recording. Active is false
// when the module is not booked, cancelled or disabled; the other fields are then meaningless.
type RecordingPolicy struct {
	Active             bool
	Mode               calls.Mode
	CallerAnnouncement bool
	Stereo             bool
	Language           string         // announcements' language: "de" or "en" (PromptLang of the customer's)
	Announcements      []Announcement // the three slots in call order
	RetentionDays      int
}

// RecordingPolicy tells the engine how to treat calls to a pool (not actor-scoped: the network,
// not a user, asks). An unknown pool is ErrNotFound.
func (s *Store) RecordingPolicy(ctx context.Context, poolID uint) (RecordingPolicy, error) {
	db := s.db.WithContext(ctx)
	var p Pool
	if err := db.Preload("Customer").First(&p, poolID).Error; err != nil {
		return RecordingPolicy{}, notFound(err)
	}
	b, err := latestBooking(db, p.CustomerID, p.ID, ModuleCallRecording)
	if err != nil || b == nil || !b.Active() {
		return RecordingPolicy{}, err
	}
	var st CallRecordingSettings
	if err := db.Where("pool_id = ?", p.ID).First(&st).Error; err != nil {
		return RecordingPolicy{}, notFound(err)
	}
	lang := "de"
	if p.Customer != nil {
		lang = p.Customer.Language
	}
	as, err := s.announcementsOf(ctx, p.ID)
	if err != nil {
		return RecordingPolicy{}, err
	}
	return RecordingPolicy{Active: st.Enabled, Mode: calls.Mode(st.Mode), CallerAnnouncement: st.CallerAnnouncement,
		Stereo: st.Channels == ChannelsStereo, Language: PromptLang(lang), Announcements: as,
		RetentionDays: st.RetentionDays}, nil
}
