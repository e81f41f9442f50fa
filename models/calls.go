package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"callrec/calls"
)

// Call outcomes as the call rows hold them; the values are package calls' Outcomes.
const (
	OutcomeCompleted   = string(calls.OutcomeCompleted)
	OutcomeObjected    = string(calls.OutcomeObjected)
	OutcomeUnanswered  = string(calls.OutcomeUnanswered)
	OutcomeBusy        = string(calls.OutcomeBusy)
	OutcomeFailed      = string(calls.OutcomeFailed)
	OutcomeInterrupted = string(calls.OutcomeInterrupted)
)

// Call is one call through the engine: the call log's row.
type Call struct {
	ID         uint   `gorm:"primaryKey"`
	EngineID   string `gorm:"uniqueIndex;not null"`
	NodeID     string `gorm:"index;not null;default:''"` // the node that handles it (Store.NodeID); empty: a single machine's
	CustomerID uint   `gorm:"not null;index:idx_calls_customer_arrival,priority:1;index:idx_calls_customer_pool_arrival,priority:1"`
	PoolID     uint   `gorm:"index;index:idx_calls_customer_pool_arrival,priority:2"`
	A, B, C    string
	// Diversion and HistoryInfo are the INVITE's redirection headers as they came (RFC 5806,
	// RFC 7044): where the call was forwarded from before it reached the dialed number.
	Diversion   string
	HistoryInfo string
	Arrival     time.Time `gorm:"not null;index:idx_calls_customer_arrival,priority:2;index:idx_calls_customer_pool_arrival,priority:3"`
	Answered    *time.Time
	Bridged     *time.Time
	Ended       *time.Time
	State       string // a calls.State
	RecState    string // a calls.RecState
	Mode        string // a calls.Mode
	Outcome     string `gorm:"index"` // a calls.Outcome
	DurationMS  int64  // connected time (bridge to end); the full call length
	RecordedMS  int64
	Events      []CallEvent `gorm:"constraint:OnDelete:CASCADE"`
	Recording   *Recording
	UpdatedAt   time.Time
}

// CallEvent is one step of a call's consent trail, at an offset from the call's arrival.
type CallEvent struct {
	ID       uint `gorm:"primaryKey"`
	CallID   uint `gorm:"index;not null"`
	Seq      int
	At       time.Time
	OffsetMS int64
	Kind     string // a calls.EventKind
	By       string
	Detail   string
}

// CallRecord is the engine's view of a call, as internal/enginestore hands it over (models knows
// nothing of the engine; both speak package calls).
type CallRecord struct {
	EngineID                  string
	CustomerID, PoolID        uint
	SubscriberID, StartNumber string
	A, B, C                   string
	Diversion, HistoryInfo    string
	Arrival                   time.Time
	Answered, Bridged, Ended  time.Time
	State                     calls.State
	RecState                  calls.RecState
	Mode                      calls.Mode
	Outcome                   calls.Outcome
	Recorded                  time.Duration
	Events                    []CallEventRecord
	Segments                  []calls.Segment
	Recording                 *RecordingRecord
}

// CallEventRecord is one consent-trail event.
type CallEventRecord struct {
	At     time.Time
	Kind   calls.EventKind
	By     string
	Detail string
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
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		c = Call{}
		// The first save of a call inserts it: two saves of one call must not both insert.
		if err := s.d.lock(tx, "call "+r.EngineID); err != nil {
			return err
		}
		if err := tx.Where("engine_id = ?", r.EngineID).First(&c).Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		wasEnded := c.ID != 0 && c.Ended != nil
		if wasEnded && c.Outcome == OutcomeInterrupted && r.Ended.IsZero() {
			// A peer ended this call when its node was lost (ReapNodes); a late update of the
			// node that comes back must not reopen it.
			return nil
		}
		c.EngineID, c.CustomerID, c.PoolID = r.EngineID, r.CustomerID, r.PoolID
		c.NodeID = s.NodeID
		c.A, c.B, c.C = r.A, r.B, r.C
		c.Diversion, c.HistoryInfo = r.Diversion, r.HistoryInfo
		c.Arrival = r.Arrival.UTC()
		c.Answered, c.Bridged, c.Ended = timePtr(r.Answered), timePtr(r.Bridged), timePtr(r.Ended)
		c.State, c.RecState, c.Mode, c.Outcome = string(r.State), string(r.RecState), string(r.Mode), string(r.Outcome)
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
				evs[i] = CallEvent{CallID: c.ID, Seq: i, At: e.At.UTC(), OffsetMS: e.At.Sub(r.Arrival).Milliseconds(), Kind: string(e.Kind), By: e.By, Detail: e.Detail}
			}
			if err := tx.Create(&evs).Error; err != nil {
				return err
			}
		}
		var rec *Recording
		var f *File
		prevRec := ""
		if r.Recording != nil {
			var err error
			if prevRec, rec, f, err = s.saveRecording(tx, c, r); err != nil {
				return err
			}
		}
		// The events' outbox rows commit with the call: none is lost to a crash in between.
		return s.callEvents(tx, c, wasEnded, prevRec, rec, f)
	})
	return c, err
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
	return tx.Model(&c).Updates(map[string]any{"state": calls.StateEnded, "outcome": OutcomeInterrupted, "ended": end, "duration_ms": dur.Milliseconds()}).Error
}

// InterruptOpenCalls ends every call of this node (Store.NodeID) still open in the database
// (after a crash) as interrupted, each with its call.ended event; calls with recordings are
// handled by MarkInterrupted first. The calls of other nodes are theirs.
func (s *Store) InterruptOpenCalls(ctx context.Context) (int64, error) {
	var ids []uint
	if err := s.ownCalls(s.db.WithContext(ctx).Model(&Call{}).Where("ended IS NULL")).Pluck("id", &ids).Error; err != nil {
		return 0, err
	}
	for i, id := range ids {
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var c Call
			if err := tx.First(&c, id).Error; err != nil {
				return err
			}
			if err := tx.Model(&c).Updates(map[string]any{"state": calls.StateEnded, "outcome": OutcomeInterrupted, "ended": s.Now().UTC()}).Error; err != nil {
				return err
			}
			if err := tx.First(&c, id).Error; err != nil {
				return err
			}
			return s.callEvents(tx, c, false, "", nil, nil)
		})
		if err != nil {
			return int64(i), err
		}
	}
	return int64(len(ids)), nil
}

// CallLogPerPage is how many calls one page of the call log shows.
const CallLogPerPage = 50

// CallFilter narrows the call log. Zero fields do not filter.
type CallFilter struct {
	PoolID  uint
	From    time.Time // arrival at or after
	To      time.Time // arrival before
	Number  string    // digits found in the caller, dialed or (for authorized persons) destination number
	Outcome string    // one of the Outcome* constants
	Ended   *bool     // true: ended calls only; false: calls still in progress
	Page    int       // 1-based
	PerPage int       // default CallLogPerPage
}

// CallLog is one page of calls, newest first.
type CallLog struct {
	Calls   []Call // with Events (in order) and Recording (nil when the call has no file) loaded
	Total   int64
	Page    int
	PerPage int
}

// Pages is the number of pages the filter yields (at least 1).
func (l CallLog) Pages() int {
	if l.PerPage <= 0 || l.Total == 0 {
		return 1
	}
	return int((l.Total + int64(l.PerPage) - 1) / int64(l.PerPage))
}

// Calls lists the calls a may see, filtered and paginated, newest first.
func (s *Store) Calls(ctx context.Context, a Actor, f CallFilter) (CallLog, error) {
	if f.PerPage <= 0 || f.PerPage > 500 {
		f.PerPage = CallLogPerPage
	}
	if f.Page < 1 {
		f.Page = 1
	}
	q := a.customerScope(s.db.WithContext(ctx).Model(&Call{}))
	if f.PoolID != 0 {
		q = q.Where("pool_id = ?", f.PoolID)
	}
	if !f.From.IsZero() {
		q = q.Where("arrival >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("arrival < ?", f.To.UTC())
	}
	if f.Outcome != "" {
		q = q.Where("outcome = ?", f.Outcome)
	}
	if f.Ended != nil {
		if *f.Ended {
			q = q.Where("ended IS NOT NULL")
		} else {
			q = q.Where("ended IS NULL")
		}
	}
	if numbers := s.searchNumbers(ctx, a.CustomerID, f.Number); len(numbers) > 0 {
		// Searching the destination would reveal its masked digits to those who may not see them.
		cols := []string{"a", "b"}
		if a.MayOpenRecordings() {
			cols = append(cols, "c")
		}
		var conds []string
		var args []any
		for _, n := range numbers {
			for _, c := range cols {
				conds, args = append(conds, c+" LIKE ?"), append(args, "%"+n+"%")
			}
		}
		q = q.Where(strings.Join(conds, " OR "), args...)
	}
	out := CallLog{Page: f.Page, PerPage: f.PerPage}
	if err := q.Session(&gorm.Session{}).Count(&out.Total).Error; err != nil {
		return out, err
	}
	err := q.Preload("Recording").Preload("Events", func(db *gorm.DB) *gorm.DB { return db.Order("seq, id") }).
		Order("arrival DESC, id DESC").
		Limit(f.PerPage).Offset((f.Page - 1) * f.PerPage).Find(&out.Calls).Error
	return out, err
}

// CallWithTrail loads one call a may see with its consent trail (in order) and recording;
// another customer's call is ErrNotFound.
func (s *Store) CallWithTrail(ctx context.Context, a Actor, id uint) (Call, error) {
	var c Call
	err := a.customerScope(s.db.WithContext(ctx)).
		Preload("Events", func(db *gorm.DB) *gorm.DB { return db.Order("seq, id") }).
		Preload("Recording").First(&c, id).Error
	return c, notFound(err)
}

// CallIDs maps engine call ids to the database ids of the calls a may see; ids of calls not
// (yet) saved or of other customers are missing from the map.
func (s *Store) CallIDs(ctx context.Context, a Actor, engineIDs []string) (map[string]uint, error) {
	out := make(map[string]uint, len(engineIDs))
	if len(engineIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		ID       uint
		EngineID string
	}
	for start := 0; start < len(engineIDs); start += 500 { // stay below SQLite's variable limit
		end := min(start+500, len(engineIDs))
		rows = rows[:0]
		err := a.customerScope(s.db.WithContext(ctx).Model(&Call{})).Select("id, engine_id").
			Where("engine_id IN ?", engineIDs[start:end]).Scan(&rows).Error
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.EngineID] = r.ID
		}
	}
	return out, nil
}
