package models

import (
	"context"
	"encoding/json"
	"errors"
	"path"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Call outcomes (as the engine reports them).
const (
	OutcomeCompleted   = "completed"
	OutcomeObjected    = "objected"
	OutcomeUnanswered  = "unanswered"
	OutcomeBusy        = "busy"
	OutcomeFailed      = "failed"
	OutcomeInterrupted = "interrupted"
)

// Recording states.
const (
	RecordingActive      = "recording"
	RecordingComplete    = "complete"
	RecordingFailed      = "failed"
	RecordingInterrupted = "interrupted"
)

// Call is one call through the engine: the call log's row.
type Call struct {
	ID         uint   `gorm:"primaryKey"`
	EngineID   string `gorm:"uniqueIndex;not null"`
	CustomerID uint   `gorm:"not null;index:idx_calls_customer_arrival,priority:1;index:idx_calls_customer_pool_arrival,priority:1"`
	PoolID     uint   `gorm:"index;index:idx_calls_customer_pool_arrival,priority:2"`
	A, B, C    string
	Arrival    time.Time `gorm:"not null;index:idx_calls_customer_arrival,priority:2;index:idx_calls_customer_pool_arrival,priority:3"`
	Answered   *time.Time
	Bridged    *time.Time
	Ended      *time.Time
	State      string // announcing, ringing, connected, ended
	RecState   string // off, recording, stopped, objected, failed
	Mode       string
	Outcome    string `gorm:"index"`
	DurationMS int64  // connected time (bridge to end); the full call length
	RecordedMS int64
	Events     []CallEvent `gorm:"constraint:OnDelete:CASCADE"`
	Recording  *Recording
	UpdatedAt  time.Time
}

// CallEvent is one step of a call's consent trail, at an offset from the call's arrival.
type CallEvent struct {
	ID       uint `gorm:"primaryKey"`
	CallID   uint `gorm:"index;not null"`
	Seq      int
	At       time.Time
	OffsetMS int64
	Kind     string
	By       string
	Detail   string
}

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
	Status     string `gorm:"index"` // recording, complete, failed, interrupted
	Failure    string
	Peaks      []byte // waveform peaks, computed once
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// SegmentsMS decodes the recorded segments.
func (r Recording) SegmentsMS() [][2]int64 {
	var s [][2]int64
	_ = json.Unmarshal([]byte(r.Segments), &s)
	return s
}

// CallRecord is the engine's view of a call, as cmd/callrec hands it over (models knows nothing
// of the engine).
type CallRecord struct {
	EngineID                       string
	CustomerID, PoolID             uint
	SubscriberID, StartNumber      string
	A, B, C                        string
	Arrival                        time.Time
	Answered, Bridged, Ended       time.Time
	State, RecState, Mode, Outcome string
	Recorded                       time.Duration
	Events                         []CallEventRecord
	Segments                       [][2]time.Duration
	Recording                      *RecordingRecord
}

// CallEventRecord is one consent-trail event.
type CallEventRecord struct {
	At     time.Time
	Kind   string
	By     string
	Detail string
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

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// SaveCall stores the engine's current view of a call: the call row, its consent trail, and
// its recording with the recording's File row. Called on every state change; idempotent.
func (s *Store) SaveCall(ctx context.Context, r CallRecord) (Call, error) {
	var c Call
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("engine_id = ?", r.EngineID).First(&c).Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		c.EngineID, c.CustomerID, c.PoolID = r.EngineID, r.CustomerID, r.PoolID
		c.A, c.B, c.C = r.A, r.B, r.C
		c.Arrival = r.Arrival.UTC()
		c.Answered, c.Bridged, c.Ended = timePtr(r.Answered), timePtr(r.Bridged), timePtr(r.Ended)
		c.State, c.RecState, c.Mode, c.Outcome = r.State, r.RecState, r.Mode, r.Outcome
		c.RecordedMS = r.Recorded.Milliseconds()
		c.DurationMS = 0
		if !r.Bridged.IsZero() {
			end := r.Ended
			if end.IsZero() {
				end = s.Now()
			}
			c.DurationMS = end.Sub(r.Bridged).Milliseconds()
		}
		if err := tx.Omit(clause.Associations).Save(&c).Error; err != nil {
			return err
		}
		if err := tx.Where("call_id = ?", c.ID).Delete(&CallEvent{}).Error; err != nil {
			return err
		}
		if len(r.Events) > 0 {
			evs := make([]CallEvent, len(r.Events))
			for i, e := range r.Events {
				evs[i] = CallEvent{CallID: c.ID, Seq: i, At: e.At.UTC(), OffsetMS: e.At.Sub(r.Arrival).Milliseconds(), Kind: e.Kind, By: e.By, Detail: e.Detail}
			}
			if err := tx.Create(&evs).Error; err != nil {
				return err
			}
		}
		if r.Recording != nil {
			return s.saveRecording(tx, c, r)
		}
		return nil
	})
	return c, err
}

func (s *Store) saveRecording(tx *gorm.DB, c Call, r CallRecord) error {
	rr := r.Recording
	var rec Recording
	if err := tx.Where("call_id = ?", c.ID).First(&rec).Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return err
	}
	segs := make([][2]int64, len(r.Segments))
	for i, sg := range r.Segments {
		segs[i] = [2]int64{sg[0].Milliseconds(), sg[1].Milliseconds()}
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
		return err
	}
	rec.CustomerID, rec.PoolID, rec.CallID, rec.FileID, rec.Path = c.CustomerID, c.PoolID, c.ID, f.ID, rr.Path
	rec.Channels, rec.Size, rec.DurationMS, rec.RecordedMS = rr.Channels, rr.Size, rr.Duration.Milliseconds(), rr.Recorded.Milliseconds()
	rec.Segments, rec.Status, rec.Failure = string(sj), status, rr.Failed
	return tx.Save(&rec).Error
}

// UnfinishedRecordings lists recordings whose call never ended cleanly (the process died).
func (s *Store) UnfinishedRecordings(ctx context.Context) ([]Recording, error) {
	var rs []Recording
	err := s.db.WithContext(ctx).Where("status = ?", RecordingActive).Find(&rs).Error
	return rs, err
}

// MarkInterrupted records the repaired size and length of a recording whose call was cut off by
// a crash, and ends its call as interrupted.
func (s *Store) MarkInterrupted(ctx context.Context, recID uint, size int64, dur time.Duration, reason string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
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
		return s.interruptCall(tx, rec.CallID, dur)
	})
}

func (s *Store) interruptCall(tx *gorm.DB, callID uint, dur time.Duration) error {
	var c Call
	if err := tx.First(&c, callID).Error; err != nil {
		return notFound(err)
	}
	end := s.Now().UTC()
	if c.Bridged != nil && dur > 0 {
		end = c.Bridged.Add(dur)
	}
	return tx.Model(&c).Updates(map[string]any{"state": "ended", "outcome": OutcomeInterrupted, "ended": end, "duration_ms": dur.Milliseconds()}).Error
}

// InterruptOpenCalls ends every call still open in the database (after a crash) as interrupted;
// calls with recordings are handled by MarkInterrupted first.
func (s *Store) InterruptOpenCalls(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Model(&Call{}).Where("ended IS NULL").
		Updates(map[string]any{"state": "ended", "outcome": OutcomeInterrupted, "ended": s.Now().UTC()})
	return res.RowsAffected, res.Error
}
