package models

import (
	"context"

	"callrec/calls"
)

// PoolNamesByStart maps the start numbers of a customer's pools to their names, for the File
// Browser's breadcrumbs and folder names (a recordings folder is named after its pool's start
// number). Another customer's pools are not listed.
func (s *Store) PoolNamesByStart(ctx context.Context, a Actor, customerID uint) (map[string]string, error) {
	if !a.IsPlatformAdmin() && a.CustomerID != customerID {
		return map[string]string{}, nil
	}
	// Every File Browser page asks (breadcrumbs, folder names, rows): kept in the read cache,
	// which any write to pools empties. Callers only read the map.
	return cached(&s.cache, cacheKey{kind: cachePoolNames, id: customerID}, func() (map[string]string, error) {
		out := map[string]string{}
		var rows []struct{ StartNumber, Name string }
		err := s.bounded(ctx).Model(&Pool{}).Select("start_number, name").Where("customer_id = ?", customerID).Scan(&rows).Error
		for _, r := range rows {
			out[r.StartNumber] = r.Name
		}
		return out, err
	})
}

// RecordingFacts is what the File Browser's list shows of a recording besides its file: the
// recorded time and whether the caller was told (the notice played) or the callee stopped it (#1).
type RecordingFacts struct {
	RecordedMS int64
	Told       bool // the caller notice played
	Stopped    bool // the callee pressed #1
	Recorded   bool // a call produced the file (false: a file copied into the tree)
}

// RecordingFactsOf looks up the facts of a page of recording files (two queries for the page).
func (s *Store) RecordingFactsOf(ctx context.Context, a Actor, fileIDs []uint) (map[uint]RecordingFacts, error) {
	out := make(map[uint]RecordingFacts, len(fileIDs))
	if len(fileIDs) == 0 || !a.MayOpenRecordings() {
		return out, nil
	}
	db := s.bounded(ctx)
	var recs []Recording
	if err := a.customerScope(db.Model(&Recording{})).Select("file_id, call_id, recorded_ms").Where("file_id IN ?", fileIDs).
		Find(&recs).Error; err != nil {
		return out, err
	}
	callFile := make(map[uint]uint, len(recs))
	callIDs := make([]uint, 0, len(recs))
	for _, r := range recs {
		out[r.FileID] = RecordingFacts{RecordedMS: r.RecordedMS, Recorded: true}
		callFile[r.CallID] = r.FileID
		callIDs = append(callIDs, r.CallID)
	}
	if len(callIDs) == 0 {
		return out, nil
	}
	var evs []CallEvent
	if err := db.Model(&CallEvent{}).Select("call_id, kind").Where("call_id IN ? AND kind IN ?", callIDs,
		[]string{string(calls.EventNoticePlayed), string(calls.EventHash1Pressed)}).Find(&evs).Error; err != nil {
		return out, err
	}
	for _, e := range evs {
		f := out[callFile[e.CallID]]
		switch e.Kind {
		case string(calls.EventNoticePlayed):
			f.Told = true
		case string(calls.EventHash1Pressed):
			f.Stopped = true
		}
		out[callFile[e.CallID]] = f
	}
	return out, nil
}
