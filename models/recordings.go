package models

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"path"
	"strconv"
	"time"

	"gorm.io/gorm"

	"callrec/calls"
)

// RecordingsRoot is the top folder of recordings: call_recording/<subscriberId>/<startNumber>.
const RecordingsRoot = "call_recording"

// Recording states as the recording rows hold them; the values are package calls'
// RecordingStatuses.
const (
	RecordingActive      = string(calls.RecordingActive)
	RecordingComplete    = string(calls.RecordingComplete)
	RecordingFailed      = string(calls.RecordingFailed)
	RecordingInterrupted = string(calls.RecordingInterrupted)
)

// Recording is one recording file of a call.
type Recording struct {
	ID         uint   `gorm:"primaryKey"`
	CustomerID uint   `gorm:"index;not null"`
	PoolID     uint   `gorm:"index"`
	CallID     uint   `gorm:"uniqueIndex;not null"`
	FileID     uint   `gorm:"index"`
	Path       string `gorm:"uniqueIndex;not null"`
	Channels   int
	Size       int64
	DurationMS int64
	RecordedMS int64
	Segments   string // JSON [[startMS,endMS],...] offsets from the bridge
	Status     string `gorm:"index"` // a calls.RecordingStatus
	Failure    string
	Peaks      []byte // waveform peaks, computed once
	// Where the file is (recording_storage.go): spooled on the node, stored, or failed to
	// store (kept in the spool and retried). Empty for rows from before: in the data folder.
	Storage       string `gorm:"index"`
	SHA256        string // of the stored file
	StoreAttempts int
	StoreError    string
	StoredAt      *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// SegmentsMS decodes the recorded segments.
func (r Recording) SegmentsMS() [][2]int64 {
	var s [][2]int64
	_ = json.Unmarshal([]byte(r.Segments), &s)
	return s
}

// RecordingRecord describes the call's file.
type RecordingRecord struct {
	Path     string // relative to the data folder
	Channels int
	Size     int64
	Duration time.Duration
	Recorded time.Duration
	Failed   string
	Final    bool // the call has ended and the file is closed
}

// saveRecording saves the call's recording and its File row; it returns the recording's
// status before (empty for a new one) and both rows.
func (s *Store) saveRecording(tx *gorm.DB, c Call, r CallRecord) (string, *Recording, *File, error) {
	rr := r.Recording
	var rec Recording
	if err := tx.Where("call_id = ?", c.ID).First(&rec).Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return "", nil, nil, err
	}
	prev := rec.Status
	segs := make([][2]int64, len(r.Segments))
	for i, sg := range r.Segments {
		segs[i] = [2]int64{sg.Start.Milliseconds(), sg.End.Milliseconds()}
	}
	sj, _ := json.Marshal(segs)
	status := RecordingActive
	switch {
	case rr.Failed != "":
		status = RecordingFailed
	case rr.Final:
		status = RecordingComplete
	}
	var f File
	if rec.FileID != 0 {
		tx.First(&f, rec.FileID)
	}
	f.CustomerID, f.Folder, f.Name, f.Path, f.Kind = c.CustomerID, path.Dir(rr.Path), path.Base(rr.Path), rr.Path, KindRecording
	f.Size, f.Codec, f.Bits, f.Rate, f.Channels, f.DurationMS = rr.Size, "pcm_s16le", 16, 8000, rr.Channels, rr.Duration.Milliseconds()
	f.CallAt, f.A, f.B, f.C, f.PoolID = timePtr(r.Arrival), c.A, c.B, c.C, c.PoolID
	if err := tx.Save(&f).Error; err != nil {
		return "", nil, nil, err
	}
	rec.CustomerID, rec.PoolID, rec.CallID, rec.FileID, rec.Path = c.CustomerID, c.PoolID, c.ID, f.ID, rr.Path
	rec.Channels, rec.Size, rec.DurationMS, rec.RecordedMS = rr.Channels, rr.Size, rr.Duration.Milliseconds(), rr.Recorded.Milliseconds()
	rec.Segments, rec.Status, rec.Failure = string(sj), status, rr.Failed
	if rec.Storage == "" {
		rec.Storage = StorageSpooled // the engine writes into the node's spool
	}
	return prev, &rec, &f, tx.Save(&rec).Error
}

// UnfinishedRecordings lists this node's recordings (Store.NodeID) whose call never ended
// cleanly (the process died).
func (s *Store) UnfinishedRecordings(ctx context.Context) ([]Recording, error) {
	var rs []Recording
	q := s.db.WithContext(ctx).Where("status = ?", RecordingActive)
	if s.NodeID != "" {
		q = q.Where("call_id IN (?)", s.ownCalls(s.db.Model(&Call{}).Select("id")))
	}
	err := q.Find(&rs).Error
	return rs, err
}

// MarkInterrupted records the repaired size and length of a recording whose call was cut off by
// a crash, and ends its call as interrupted.
func (s *Store) MarkInterrupted(ctx context.Context, recID uint, size int64, dur time.Duration, reason string) error {
	return s.transaction(ctx, func(tx *gorm.DB) error {
		var rec Recording
		if err := tx.First(&rec, recID).Error; err != nil {
			return notFound(err)
		}
		status := RecordingInterrupted
		if reason != "" {
			status = RecordingFailed
		}
		if err := tx.Model(&rec).Updates(map[string]any{"size": size, "duration_ms": dur.Milliseconds(), "status": status, "failure": reason}).Error; err != nil {
			return err
		}
		if err := tx.Model(&File{}).Where("id = ?", rec.FileID).Updates(map[string]any{"size": size, "duration_ms": dur.Milliseconds()}).Error; err != nil {
			return err
		}
		var c Call
		if err := tx.First(&c, rec.CallID).Error; err != nil {
			return notFound(err)
		}
		wasEnded := c.Ended != nil
		if err := s.interruptCall(tx, rec.CallID, dur); err != nil {
			return err
		}
		var f File
		if err := tx.First(&c, rec.CallID).Error; err != nil {
			return err
		}
		if err := tx.First(&rec, recID).Error; err != nil {
			return err
		}
		if err := tx.First(&f, rec.FileID).Error; err != nil {
			return s.callEvents(tx, c, wasEnded, RecordingActive, &rec, nil)
		}
		return s.callEvents(tx, c, wasEnded, RecordingActive, &rec, &f)
	})
}

// Audit kinds of recordings.
const (
	AuditRecordingListened   = "recording.listened"
	AuditRecordingDownloaded = "recording.downloaded"
	AuditRecordingDeleted    = "recording.deleted"
)

// RecordingDetail is a recording file with its call, consent trail and recording row (Call and
// Recording are nil for a file in the recordings tree that no call produced, e.g. copied in).
type RecordingDetail struct {
	File      File
	Recording *Recording
	Call      *Call // with Events in order
	Customer  Customer
}

// RecordingFile loads the recording file id with its call for a; anything a may not open is
// ErrNotFound (other customers' files, any recording for users who may not open recordings).
func (s *Store) RecordingFile(ctx context.Context, a Actor, id uint) (RecordingDetail, error) {
	f, err := s.FileByID(ctx, a, id)
	if err != nil {
		return RecordingDetail{}, err
	}
	if f.Kind != KindRecording || !a.MayOpenRecordings() {
		return RecordingDetail{}, ErrNotFound
	}
	d := RecordingDetail{File: f}
	db := s.bounded(ctx)
	if err := db.First(&d.Customer, f.CustomerID).Error; err != nil {
		return RecordingDetail{}, notFound(err)
	}
	var rec Recording
	err = db.Where("file_id = ?", f.ID).First(&rec).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return d, nil
	case err != nil:
		return RecordingDetail{}, err
	}
	d.Recording = &rec
	var c Call
	if err := db.Preload("Events", func(q *gorm.DB) *gorm.DB { return q.Order("seq, id") }).First(&c, rec.CallID).Error; err == nil {
		d.Call = &c
	} else if !errors.Is(err, gorm.ErrRecordNotFound) {
		return RecordingDetail{}, err
	}
	return d, nil
}

// SetRecordingPeaks stores a recording's waveform peaks (computed once from the file).
func (s *Store) SetRecordingPeaks(ctx context.Context, recID uint, peaks []byte) error {
	return s.db.WithContext(ctx).Model(&Recording{}).Where("id = ?", recID).Update("peaks", peaks).Error
}

// DeleteRecordings deletes recording files ids a may delete: each file's rows and, through
// remove, the file on disk (a file already gone is fine), with an audit event per file, in one
// transaction per file. It stops at the first error; deleted lists what is gone.
func (s *Store) DeleteRecordings(ctx context.Context, a Actor, ip string, ids []uint, remove func(rel string) error) (deleted []File, err error) {
	// Every id is checked before the first deletion: a foreign id in a selection deletes nothing.
	fs := make([]File, 0, len(ids))
	seen := map[uint]bool{}
	for _, id := range ids {
		d, err := s.RecordingFile(ctx, a, id)
		if err != nil {
			return nil, err
		}
		if !a.MayDeleteRecordings() {
			return nil, ErrForbidden
		}
		if !seen[id] {
			seen[id] = true
			fs = append(fs, d.File)
		}
	}
	for _, f := range fs {
		if err := s.deleteRecording(ctx, f, AuditEntry{CustomerID: f.CustomerID, Actor: a, IP: ip,
			Kind: AuditRecordingDeleted, Object: f.Path}, remove); err != nil {
			return deleted, err
		}
		deleted = append(deleted, f)
	}
	return deleted, nil
}

func (s *Store) deleteRecording(ctx context.Context, f File, audit AuditEntry, remove func(rel string) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { // remove is not run twice
		if err := s.deletedEvent(tx, f, audit.Actor); err != nil {
			return err
		}
		if err := tx.Where("file_id = ?", f.ID).Delete(&Recording{}).Error; err != nil {
			return err
		}
		if err := tx.Delete(&File{}, f.ID).Error; err != nil {
			return err
		}
		if err := s.auditIn(tx, audit); err != nil {
			return err
		}
		// The file goes last: if removing it fails the rows stay and say where it is.
		if err := remove(f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

// WriteZip streams the recording files ids a may open into one ZIP archive on w (names flat,
// made unique), without a temporary file. open reads a file of the tree. Every file is checked
// before the first byte is written, so a foreign id fails the request instead of a broken archive.
func (s *Store) WriteZip(ctx context.Context, a Actor, ids []uint, open func(rel string) (io.ReadCloser, error), w io.Writer) ([]File, error) {
	fs := make([]File, 0, len(ids))
	seen := map[uint]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		d, err := s.RecordingFile(ctx, a, id)
		if err != nil {
			return nil, err
		}
		fs = append(fs, d.File)
	}
	zw := zip.NewWriter(w)
	names := map[string]bool{}
	for _, f := range fs {
		name := f.Name
		for i := 2; names[name]; i++ {
			ext := path.Ext(f.Name)
			name = f.Name[:len(f.Name)-len(ext)] + "_" + strconv.Itoa(i) + ext
		}
		names[name] = true
		hdr := &zip.FileHeader{Name: name, Method: zip.Deflate}
		if f.CallAt != nil {
			hdr.Modified = *f.CallAt
		}
		dst, err := zw.CreateHeader(hdr)
		if err != nil {
			return fs, err
		}
		src, err := open(f.Path)
		if err != nil {
			return fs, err
		}
		_, err = io.Copy(dst, src)
		src.Close()
		if err != nil {
			return fs, err
		}
	}
	return fs, zw.Close()
}

// PoolRetentionDays gives the retention in days of every pool that has one (the Call Recording
// settings' retention_days; pools without it keep recordings forever).
func (s *Store) PoolRetentionDays(ctx context.Context) (map[uint]int, error) {
	var rows []struct {
		PoolID        uint
		RetentionDays int
	}
	err := s.db.WithContext(ctx).Table("call_recording_settings").Select("pool_id, retention_days").
		Where("retention_days > 0").Scan(&rows).Error
	out := make(map[uint]int, len(rows))
	for _, r := range rows {
		out[r.PoolID] = r.RetentionDays
	}
	return out, err
}

// RetentionDays gives each pool's retention in days; pools missing from the map keep their
// recordings. Store.PoolRetentionDays is the product's source.
type RetentionDays func(ctx context.Context) (map[uint]int, error)

// ApplyRetention deletes the recordings whose call is older than their pool's retention (days
// counted from now), each as an audited system deletion. It works in batches so a large backlog
// never holds the database long, and returns how many it deleted.
func (s *Store) ApplyRetention(ctx context.Context, days RetentionDays, remove func(rel string) error, now time.Time) (int, error) {
	pools, err := days(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for poolID, d := range pools {
		if d <= 0 {
			continue
		}
		cutoff := now.Add(-time.Duration(d) * 24 * time.Hour).UTC()
		for {
			var batch []File
			if err := s.db.WithContext(ctx).Where("kind = ? AND pool_id = ? AND call_at < ?", KindRecording, poolID, cutoff).
				Order("call_at, id").Limit(200).Find(&batch).Error; err != nil {
				return n, err
			}
			gone := 0
			for _, f := range batch {
				var rec Recording
				if s.db.WithContext(ctx).Where("file_id = ?", f.ID).Select("status").First(&rec).Error == nil && rec.Status == RecordingActive {
					continue // still being written
				}
				if err := s.deleteRecording(ctx, f, AuditEntry{CustomerID: f.CustomerID, Kind: AuditRecordingDeleted,
					Object: f.Path, Old: map[string]any{"reason": "retention", "retention_days": d}}, remove); err != nil {
					return n, err
				}
				n++
				gone++
			}
			if len(batch) < 200 || gone == 0 || ctx.Err() != nil {
				break
			}
		}
	}
	return n, ctx.Err()
}

// AuditAccessWindow is how long one listen or download of a file by one user counts as one
// event: a player's many Range requests (seeks, buffering) make one listen.
const AuditAccessWindow = 10 * time.Minute

// AuditRecordingAccess writes e (a listen or a download) unless the same user had the same kind
// of access to the same file within AuditAccessWindow. Every audio request goes through it, so
// no Range trick (starting at byte 1, say) escapes the audit.
func (s *Store) AuditRecordingAccess(ctx context.Context, e AuditEntry) error {
	var n int64
	since := s.Now().UTC().Add(-AuditAccessWindow)
	if err := s.db.WithContext(ctx).Model(&AuditEvent{}).Where("customer_id = ? AND at >= ? AND kind = ? AND user_id = ? AND object = ?",
		e.CustomerID, since, e.Kind, e.Actor.UserID, e.Object).Limit(1).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	return s.Audit(ctx, e)
}
