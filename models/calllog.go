package models

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

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

// MaskNumber hides the middle of a phone number the way the product document shows it
// (4915258878874 -> 4915258XXX874): about a quarter of the digits, keeping the last three and
// the prefix that tells country and network. Empty stays empty.
func MaskNumber(n string) string {
	r := []rune(n)
	l := len(r)
	if l == 0 {
		return ""
	}
	if l == 1 {
		return "X"
	}
	masked := max(1, l/4)
	tail := min(3, (l-masked)/2)
	head := l - masked - tail
	return string(r[:head]) + strings.Repeat("X", masked) + string(r[head+masked:])
}

// PoolNames maps the ids of the pools a may see to their names (a light query for lists that
// show a pool per row).
func (s *Store) PoolNames(ctx context.Context, a Actor) (map[uint]string, error) {
	var rows []struct {
		ID   uint
		Name string
	}
	err := a.customerScope(s.db.WithContext(ctx).Model(&Pool{})).Select("id, name").Order("name, id").Scan(&rows).Error
	out := make(map[uint]string, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, err
}

// CustomersByID maps the customers a may see by id (the platform admin's lists show them).
func (s *Store) CustomersByID(ctx context.Context, a Actor) (map[uint]Customer, error) {
	var cs []Customer
	q := s.db.WithContext(ctx)
	if !a.IsPlatformAdmin() {
		q = q.Where("id = ?", a.CustomerID)
	}
	err := q.Find(&cs).Error
	out := make(map[uint]Customer, len(cs))
	for _, c := range cs {
		out[c.ID] = c
	}
	return out, err
}
