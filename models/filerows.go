package models

import (
	"context"
	"time"
)

// File kinds.
const (
	KindAnnouncement = "announcement"
	KindRecording    = "recording"
)

// File is one file of a customer's tree: an uploaded or converted announcement, or a recording.
// The File Browser and /api/v1/files list these rows (indexed by customer and folder) instead of
// reading directories, so a folder of 100,000 recordings pages fast. Recording files also carry
// the parts of their name (call time, a, b, c) for sorting and filtering.
type File struct {
	ID         uint   `gorm:"primaryKey"`
	CustomerID uint   `gorm:"not null;index:idx_files_folder,priority:1"`
	Folder     string `gorm:"not null;index:idx_files_folder,priority:2"` // e.g. call_recording/337826/4971121843140
	Name       string `gorm:"not null;index:idx_files_folder,priority:3"`
	Path       string `gorm:"uniqueIndex;not null"` // Folder + "/" + Name, relative to the data folder
	Kind       string `gorm:"not null"`
	Size       int64
	Codec      string // pcm_u8, pcm_s16le, mp3, ...
	Bits       int
	Rate       int
	Channels   int
	DurationMS int64
	Ready      bool // announcements: already WAV 8-bit 16 kHz mono
	// Recording name parts (empty for announcements).
	CallAt    *time.Time `gorm:"index"`
	A, B, C   string
	PoolID    uint `gorm:"index"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// FileByID loads a file a may see; another customer's file is ErrNotFound, and so is a recording
// for someone who may not open recordings.
func (s *Store) FileByID(ctx context.Context, a Actor, id uint) (File, error) {
	var f File
	if err := a.customerScope(s.db.WithContext(ctx)).First(&f, id).Error; err != nil {
		return File{}, notFound(err)
	}
	if f.Kind == KindRecording && !a.MayOpenRecordings() {
		return File{}, ErrNotFound
	}
	return f, nil
}

// CreateFileRow records a file that now exists on disk.
func (s *Store) CreateFileRow(ctx context.Context, f *File) error {
	return s.db.WithContext(ctx).Create(f).Error
}

// DeleteFileRow forgets a file (the caller removes it from disk).
func (s *Store) DeleteFileRow(ctx context.Context, id uint) error {
	return s.db.WithContext(ctx).Delete(&File{}, id).Error
}
