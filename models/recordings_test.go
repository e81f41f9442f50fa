package models

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"callrec/calls"
)

// saveRec stores a finished call with a recording at arrival, as the engine would.
func saveRec(t *testing.T, s *Store, cust, pool uint, engineID string, arrival time.Time, rel string) File {
	t.Helper()
	_, err := s.SaveCall(context.Background(), CallRecord{EngineID: engineID, CustomerID: cust, PoolID: pool, A: "49711218431440", B: "49711218431431", C: "4915258878874",
		Arrival: arrival, Answered: arrival.Add(time.Second), Bridged: arrival.Add(2 * time.Second), Ended: arrival.Add(62 * time.Second),
		State: "ended", RecState: "stopped", Outcome: calls.OutcomeCompleted, Recorded: 30 * time.Second,
		Events:    []CallEventRecord{{At: arrival, Kind: "notice_played", By: "system"}, {At: arrival.Add(2 * time.Second), Kind: "recording_started", By: "system"}},
		Segments:  []calls.Segment{{Start: 0, End: 30 * time.Second}},
		Recording: &RecordingRecord{Path: rel, Channels: 1, Size: 44 + 16000, Duration: 60 * time.Second, Recorded: 30 * time.Second, Final: true}})
	if err != nil {
		t.Fatal(err)
	}
	var f File
	if err := s.db.Where("path = ?", rel).First(&f).Error; err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRetentionDeleteZip(t *testing.T) {
	f := newBrowseFixture(t, 0)
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	f.s.Now = func() time.Time { return now }
	old := saveRec(t, f.s, f.admin.CustomerID, f.pool.ID, "e1", now.AddDate(0, 0, -31), f.folder+"/rec_old.wav")
	fresh := saveRec(t, f.s, f.admin.CustomerID, f.pool.ID, "e2", now.AddDate(0, 0, -29), f.folder+"/rec_new.wav")
	third := saveRec(t, f.s, f.admin.CustomerID, f.pool.ID, "e3", now.AddDate(0, 0, -1), f.folder+"/rec_3.wav")

	d, err := f.s.RecordingFile(ctx, f.admin, old.ID)
	if err != nil || d.Call == nil || len(d.Call.Events) != 2 || d.Recording == nil || len(d.Recording.SegmentsMS()) != 1 {
		t.Fatalf("detail %+v %v", d, err)
	}
	for _, a := range []Actor{f.agent, f.other} {
		if _, err := f.s.RecordingFile(ctx, a, old.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%v opened a recording: %v", a.Role, err)
		}
	}

	// ZIP: flat names, contents from open, foreign ids refused before anything is written.
	open := func(rel string) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("data of " + rel)), nil }
	var buf bytes.Buffer
	if _, err := f.s.WriteZip(ctx, f.admin, []uint{old.ID, fresh.ID, old.ID}, open, &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil || len(zr.File) != 2 || zr.File[0].Name != "rec_old.wav" || zr.File[1].Name != "rec_new.wav" {
		t.Fatalf("zip %v %v", zr, err)
	}
	rc, _ := zr.File[0].Open()
	b, _ := io.ReadAll(rc)
	if string(b) != "data of "+old.Path {
		t.Fatalf("zip content %q", b)
	}
	buf.Reset()
	if _, err := f.s.WriteZip(ctx, f.other, []uint{old.ID}, open, &buf); !errors.Is(err, ErrNotFound) || buf.Len() != 0 {
		t.Fatalf("foreign zip: %v, %d bytes", err, buf.Len())
	}

	// Retention: 30 days deletes only the 31-day-old one, as an audited system deletion.
	if err := f.s.db.Create(&CallRecordingSettings{PoolID: f.pool.ID, Mode: ModeAutomatic, Channels: ChannelsStereo, RetentionDays: 30}).Error; err != nil {
		t.Fatal(err)
	}
	var removed []string
	remove := func(rel string) error { removed = append(removed, rel); return fs.ErrNotExist }
	n, err := f.s.ApplyRetention(ctx, f.s.PoolRetentionDays, remove, now)
	if err != nil || n != 1 || len(removed) != 1 || removed[0] != old.Path {
		t.Fatalf("retention: %d %v %v", n, removed, err)
	}
	if _, err := f.s.RecordingFile(ctx, f.admin, old.ID); !errors.Is(err, ErrNotFound) {
		t.Fatal("old recording still there")
	}
	var ev AuditEvent
	if err := f.s.db.Where("kind = ?", AuditRecordingDeleted).First(&ev).Error; err != nil || ev.UserID != 0 || ev.Username != "system" || ev.Object != old.Path || !strings.Contains(ev.OldValue, "retention") {
		t.Fatalf("audit %+v %v", ev, err)
	}
	if n, _ := f.s.ApplyRetention(ctx, f.s.PoolRetentionDays, remove, now); n != 0 {
		t.Fatalf("second run deleted %d", n)
	}

	// Deleting: agents and other customers cannot, a failing removal keeps the rows.
	if _, err := f.s.DeleteRecordings(ctx, f.other, "1.2.3.4", []uint{fresh.ID}, remove); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	canOpen := f.agent
	canOpen.CanOpenRecordings = true
	if _, err := f.s.DeleteRecordings(ctx, canOpen, "1.2.3.4", []uint{fresh.ID}, remove); !errors.Is(err, ErrForbidden) {
		t.Fatal(err)
	}
	boom := errors.New("disk")
	if _, err := f.s.DeleteRecordings(ctx, f.admin, "1.2.3.4", []uint{fresh.ID}, func(string) error { return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := f.s.RecordingFile(ctx, f.admin, fresh.ID); err != nil {
		t.Fatal("rows gone although the file stayed")
	}
	gone, err := f.s.DeleteRecordings(ctx, f.admin, "1.2.3.4", []uint{fresh.ID, third.ID}, remove)
	if err != nil || len(gone) != 2 {
		t.Fatal(gone, err)
	}
	var cnt int64
	f.s.db.Model(&AuditEvent{}).Where("kind = ? AND ip = ? AND username = ?", AuditRecordingDeleted, "1.2.3.4", "a").Count(&cnt)
	if cnt != 2 {
		t.Fatalf("%d audit events", cnt)
	}
}
