package models

import (
	"context"
	"fmt"
	"strings"
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

// CreateFileRows records many files at once: one transaction, inserts of fileRowsBatch rows each
// (imports of a tree that exists on disk, and the File Browser's load test: 100,000 rows in
// seconds). A statement per batch also keeps PostgreSQL's folder_stats trigger to one update
// of the folder's row per batch.
func (s *Store) CreateFileRows(ctx context.Context, rows []File) error {
	tx, err := s.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := s.Now().UTC()
	for start := 0; start < len(rows); start += fileRowsBatch {
		batch := rows[start:min(start+fileRowsBatch, len(rows))]
		var q strings.Builder
		q.WriteString(`INSERT INTO files (customer_id, folder, name, path, kind, size, codec, bits, rate,
			channels, duration_ms, ready, call_at, a, b, c, pool_id, created_at, updated_at) VALUES `)
		args := make([]any, 0, 19*len(batch))
		byPath := make(map[string]*File, len(batch))
		for i := range batch {
			f := &batch[i]
			if f.CreatedAt.IsZero() {
				f.CreatedAt, f.UpdatedAt = now, now
			}
			var at any
			if f.CallAt != nil {
				at = f.CallAt.UTC()
			}
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
			args = append(args, f.CustomerID, f.Folder, f.Name, f.Path, f.Kind, f.Size, f.Codec, f.Bits, f.Rate,
				f.Channels, f.DurationMS, f.Ready, at, f.A, f.B, f.C, f.PoolID, f.CreatedAt, f.UpdatedAt)
			byPath[f.Path] = f
		}
		// RETURNING (PostgreSQL's driver has no LastInsertId), with the path: neither database
		// promises to return the rows in the order of VALUES.
		q.WriteString(" RETURNING id, path")
		rs, err := tx.QueryContext(ctx, s.d.rebind(q.String()), args...)
		if err != nil {
			return err
		}
		n := 0
		for rs.Next() {
			var id uint
			var path string
			if err := rs.Scan(&id, &path); err != nil {
				rs.Close()
				return err
			}
			if f := byPath[path]; f != nil {
				f.ID = id
				n++
			}
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
		if n != len(batch) {
			return fmt.Errorf("models: %d of %d files inserted (two with one path?)", n, len(batch))
		}
	}
	err = tx.Commit()
	s.versions.dropAll() // database/sql, not GORM: see scopeVersions
	return err
}

// fileRowsBatch is how many rows one insert of CreateFileRows carries (19 values each: far below
// both databases' limits of parameters per statement).
const fileRowsBatch = 500
