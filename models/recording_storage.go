package models

import (
	"context"

	"gorm.io/gorm"
)

// Storage states of a recording's file. The engine writes into the node's local spool; the
// uploader (internal/upload) puts the finished file into the storage, checks it, marks it
// stored and only then removes the spool copy, so a file is always in one of the two places.
const (
	StorageSpooled = "spooled" // in the spool only, waiting for its upload
	StorageStored  = "stored"  // in the storage, size and checksum checked
	StorageFailed  = "failed"  // the last upload failed; the spool copy is kept and retried
)

// PendingUploads lists up to limit recordings that are finished (their call has ended, or a
// crash was repaired) but not stored, oldest first, after the id after. Only this node's
// (Store.NodeID): the spool copy is in its own data folder.
func (s *Store) PendingUploads(ctx context.Context, after uint, limit int) ([]Recording, error) {
	var rs []Recording
	q := s.db.WithContext(ctx).Select("id, customer_id, pool_id, call_id, file_id, path, size, status, storage, store_attempts, store_error").
		Where("status <> ? AND storage IN ? AND id > ?", RecordingActive, []string{StorageSpooled, StorageFailed}, after)
	if s.NodeID != "" {
		q = q.Where("call_id IN (?)", s.ownCalls(s.db.Model(&Call{}).Select("id")))
	}
	err := q.
		Order("id").Limit(limit).Find(&rs).Error
	return rs, err
}

// MarkStored records that a recording's file is in the storage with this size and SHA-256, and
// its waveform peaks (computed from the spool copy before it goes).
func (s *Store) MarkStored(ctx context.Context, recID uint, size int64, sha256 string, peaks []byte) error {
	now := s.Now().UTC()
	up := map[string]any{"storage": StorageStored, "sha256": sha256, "store_error": "", "stored_at": &now}
	if len(peaks) > 0 {
		up["peaks"] = peaks
	}
	res := s.db.WithContext(ctx).Model(&Recording{}).Where("id = ?", recID).Updates(up)
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNotFound // deleted meanwhile
	}
	return res.Error
}

// MarkStoreFailed records a failed upload (the spool copy stays; the uploader tries again).
func (s *Store) MarkStoreFailed(ctx context.Context, recID uint, reason string) error {
	if len(reason) > 500 {
		reason = reason[:500]
	}
	return s.db.WithContext(ctx).Model(&Recording{}).Where("id = ? AND storage <> ?", recID, StorageStored).
		Updates(map[string]any{"storage": StorageFailed, "store_error": reason, "store_attempts": gorm.Expr("store_attempts + 1")}).Error
}

// RecordingByPath loads the recording row of the file at path (ErrNotFound when none).
func (s *Store) RecordingByPath(ctx context.Context, path string) (Recording, error) {
	var r Recording
	err := s.db.WithContext(ctx).Where("path = ?", path).First(&r).Error
	return r, notFound(err)
}
