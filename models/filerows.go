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

// CreateFileRows records many files at once: one transaction, one prepared insert (imports of a
// tree that exists on disk, and the File Browser's load test: 100,000 rows in a few seconds).
func (s *Store) CreateFileRows(ctx context.Context, rows []File) error {
	tx, err := s.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// RETURNING id: PostgreSQL's driver has no LastInsertId (SQLite has RETURNING since 3.35).
	st, err := tx.PrepareContext(ctx, s.d.rebind(`INSERT INTO files (customer_id, folder, name, path, kind, size, codec, bits, rate,
		channels, duration_ms, ready, call_at, a, b, c, pool_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		RETURNING id`))
	if err != nil {
		return err
	}
	defer st.Close()
	now := s.Now().UTC()
	for i := range rows {
		f := &rows[i]
		if f.CreatedAt.IsZero() {
			f.CreatedAt, f.UpdatedAt = now, now
		}
		var at any
		if f.CallAt != nil {
			at = f.CallAt.UTC()
		}
		if err := st.QueryRowContext(ctx, f.CustomerID, f.Folder, f.Name, f.Path, f.Kind, f.Size, f.Codec, f.Bits, f.Rate,
			f.Channels, f.DurationMS, f.Ready, at, f.A, f.B, f.C, f.PoolID, f.CreatedAt, f.UpdatedAt).Scan(&f.ID); err != nil {
			return err
		}
	}
	return tx.Commit()
}
