package models

import (
	"context"
	"time"
)

// AuditSubjects are what the audit log's rows name, looked up in one go for a page of rows so
// the page links them by their names: recordings' files by path, calls by id.
type AuditSubjects struct {
	Files map[string]uint        // recording path -> the file's id (files a may open)
	Calls map[uint]AuditCallInfo // call id -> caller and arrival (calls a may see)
}

// AuditCallInfo is a call as the audit log names it.
type AuditCallInfo struct {
	A       string
	Arrival time.Time
	FileID  uint // its recording's file, 0 when none
}

// LookupAuditSubjects finds the recordings (by path) and calls (by id) a may see.
func (s *Store) LookupAuditSubjects(ctx context.Context, a Actor, paths []string, callIDs []uint) (AuditSubjects, error) {
	out := AuditSubjects{Files: map[string]uint{}, Calls: map[uint]AuditCallInfo{}}
	db := s.bounded(ctx)
	if len(paths) > 0 && a.MayOpenRecordings() {
		var fs []File
		if err := a.customerScope(db.Model(&File{})).Select("id, path").Where("kind = ? AND path IN ?", KindRecording, paths).
			Find(&fs).Error; err != nil {
			return out, err
		}
		for _, f := range fs {
			out.Files[f.Path] = f.ID
		}
	}
	if len(callIDs) > 0 {
		var cs []Call
		if err := a.customerScope(db.Model(&Call{})).Select("id, a, arrival").Where("id IN ?", callIDs).Find(&cs).Error; err != nil {
			return out, err
		}
		var recs []Recording
		if a.MayOpenRecordings() {
			if err := a.customerScope(db.Model(&Recording{})).Select("call_id, file_id").Where("call_id IN ?", callIDs).Find(&recs).Error; err != nil {
				return out, err
			}
		}
		for _, c := range cs {
			info := AuditCallInfo{A: c.A, Arrival: c.Arrival}
			for _, r := range recs {
				if r.CallID == c.ID {
					info.FileID = r.FileID
				}
			}
			out.Calls[c.ID] = info
		}
	}
	return out, nil
}
