package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// PoolOverview is one pool on the home page: its Call Recording module and what happened.
type PoolOverview struct {
	Pool     Pool
	Booking  *ModuleBooking         // newest Call Recording booking, nil when never booked
	Settings *CallRecordingSettings // nil before the first booking
	Counts
}

// Booked reports whether Call Recording is in force for the pool.
func (p PoolOverview) Booked() bool { return p.Booking != nil && p.Booking.Active() }

// Counts are the home page's figures for a pool, a customer or the platform: calls and
// recordings since the start of today and of this week (the caller's days, in the customer's
// time zone), and recordings whose file failed (writing it, or storing it) at any time.
type Counts struct {
	CallsToday, CallsWeek           int64
	RecordingsToday, RecordingsWeek int64
	Failed                          int64
}

func (c *Counts) add(o Counts) {
	c.CallsToday += o.CallsToday
	c.CallsWeek += o.CallsWeek
	c.RecordingsToday += o.RecordingsToday
	c.RecordingsWeek += o.RecordingsWeek
	c.Failed += o.Failed
}

// countsBy is Counts grouped by key ("pool_id" or "customer_id") for the calls and recordings
// scope may see; week must not be after day.
func countsBy(db *gorm.DB, scope func(*gorm.DB) *gorm.DB, key string, day, week time.Time) (map[uint]Counts, error) {
	out := map[uint]Counts{}
	type row struct {
		K          uint
		Today, Wk  int64
		RecT, RecW int64
		Failed     int64
	}
	var calls []row
	err := scope(db.Table("calls")).Select(key+" AS k, SUM(CASE WHEN arrival >= ? THEN 1 ELSE 0 END) AS today, COUNT(*) AS wk", day.UTC()).
		Where("arrival >= ?", week.UTC()).Group(key).Scan(&calls).Error
	if err != nil {
		return nil, err
	}
	for _, r := range calls {
		c := out[r.K]
		c.CallsToday, c.CallsWeek = r.Today, r.Wk
		out[r.K] = c
	}
	var recs []row
	err = scope(db.Table("recordings")).Select("recordings."+key+" AS k, "+
		"SUM(CASE WHEN calls.arrival >= ? THEN 1 ELSE 0 END) AS rec_t, "+
		"SUM(CASE WHEN calls.arrival >= ? THEN 1 ELSE 0 END) AS rec_w, "+
		"SUM(CASE WHEN recordings.status = ? OR recordings.storage = ? THEN 1 ELSE 0 END) AS failed",
		day.UTC(), week.UTC(), RecordingFailed, StorageFailed).
		Joins("JOIN calls ON calls.id = recordings.call_id").Group("recordings." + key).Scan(&recs).Error
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		c := out[r.K]
		c.RecordingsToday, c.RecordingsWeek, c.Failed = r.RecT, r.RecW, r.Failed
		out[r.K] = c
	}
	return out, nil
}

// Overview is every pool a sees (the platform admin: every customer's) with its Call Recording
// module and its counts since day and week (week <= day).
func (s *Store) Overview(ctx context.Context, a Actor, day, week time.Time) ([]PoolOverview, error) {
	pools, err := s.Pools(ctx, a)
	if err != nil {
		return nil, err
	}
	db := s.bounded(ctx)
	scope := func(q *gorm.DB) *gorm.DB {
		if a.IsPlatformAdmin() {
			return q
		}
		return q.Where(q.Statement.Table+".customer_id = ?", a.CustomerID)
	}
	counts, err := countsBy(db, scope, "pool_id", day, week)
	if err != nil {
		return nil, err
	}
	var settings []CallRecordingSettings
	ids := make([]uint, len(pools))
	for i, p := range pools {
		ids[i] = p.ID
	}
	if err := db.Where("pool_id IN ?", ids).Find(&settings).Error; err != nil {
		return nil, err
	}
	out := make([]PoolOverview, len(pools))
	for i, p := range pools {
		o := PoolOverview{Pool: p, Counts: counts[p.ID]}
		if o.Booking, err = latestBooking(db, p.CustomerID, p.ID, ModuleCallRecording); err != nil {
			return nil, err
		}
		for j := range settings {
			if settings[j].PoolID == p.ID {
				o.Settings = &settings[j]
			}
		}
		out[i] = o
	}
	return out, nil
}

// CustomerOverview is one customer on the platform admin's home page.
type CustomerOverview struct {
	Customer    Customer
	Pools       int // number pools
	BookedPools int // pools with Call Recording in force
	FTPAccess   bool
	Counts
}

// PlatformOverview is every customer with its pools and counts since day and week, and the
// platform's totals (platform admin only).
func (s *Store) PlatformOverview(ctx context.Context, a Actor, day, week time.Time) ([]CustomerOverview, Counts, error) {
	cs, err := s.Customers(ctx, a)
	if err != nil {
		return nil, Counts{}, err
	}
	db := s.bounded(ctx)
	counts, err := countsBy(db, func(q *gorm.DB) *gorm.DB { return q }, "customer_id", day, week)
	if err != nil {
		return nil, Counts{}, err
	}
	type poolRow struct{ CustomerID, N uint }
	var pools []poolRow
	if err := db.Model(&Pool{}).Select("customer_id, COUNT(*) AS n").Group("customer_id").Scan(&pools).Error; err != nil {
		return nil, Counts{}, err
	}
	// The newest booking of each (customer, pool, module) is its state.
	var bookings []ModuleBooking
	if err := db.Where("id IN (?)", db.Model(&ModuleBooking{}).Select("MAX(id)").Group("customer_id, pool_id, module")).
		Find(&bookings).Error; err != nil {
		return nil, Counts{}, err
	}
	var total Counts
	out := make([]CustomerOverview, len(cs))
	for i, c := range cs {
		o := CustomerOverview{Customer: c, Counts: counts[c.ID]}
		for _, p := range pools {
			if p.CustomerID == c.ID {
				o.Pools = int(p.N)
			}
		}
		for _, b := range bookings {
			if b.CustomerID != c.ID || !b.Active() {
				continue
			}
			switch b.Module {
			case ModuleCallRecording:
				o.BookedPools++
			case ModuleFTPAccess:
				o.FTPAccess = true
			}
		}
		total.add(o.Counts)
		out[i] = o
	}
	return out, total, nil
}
