package models

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"
)

// TestScopeVersionsFollowWrites checks scopeVersions' rule on PostgreSQL: a kept page reads
// nothing from the database; every kind of this process's own write to files shows at once,
// even with notifications not heard (GORM's statements, its explicit transactions, raw
// statements in them, CreateFileRows); another process's write shows once its notification
// has arrived (the TTL made an hour, so only the notification can drop what is kept); and
// while the listening connection is gone nothing is kept.
func TestScopeVersionsFollowWrites(t *testing.T) {
	ctx := context.Background()
	f := newBrowseFixture(t, 120)
	if f.s.Backend() != "postgres" {
		t.Skip("SQLite keeps no scope versions: its scopeStats is a call into this process")
	}
	v := &f.s.versions
	v.mu.Lock()
	v.ttl = time.Hour
	v.mu.Unlock()
	waitLive(t, v, true)
	v.dropAll() // what was kept before the TTL was lengthened
	other := openRaw(t, f.s)
	fresh, err := Open(f.s.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	queries := []BrowseQuery{
		{Folder: f.folder, Sort: "name", Limit: 20},
		{Folder: f.folder, Sort: "date", Desc: true, Limit: 10},
		{}, // the customer's recordings
	}
	// check compares every query's page with what a store that keeps nothing answers.
	check := func(when string) {
		t.Helper()
		for i, q := range queries {
			got, err := f.s.Browse(ctx, f.admin, q)
			if err != nil {
				t.Fatal(err)
			}
			fresh.lists.clear()
			fresh.versions.dropAll()
			want, err := fresh.Browse(ctx, f.admin, q)
			if err != nil {
				t.Fatal(err)
			}
			got.Listing, want.Listing = 0, 0
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: query %d: got %d files (total %d, first %+v), want %d (total %d, first %+v)", when, i,
					len(got.Files), got.Total, first(got.Files), len(want.Files), want.Total, first(want.Files))
			}
		}
	}
	check("first reads")
	reads := v.reads.Load()
	check("read again")
	if n := v.reads.Load() - reads; n != 0 {
		t.Fatalf("kept pages read %d scope versions from the database", n)
	}

	listed, err := f.s.Browse(ctx, f.admin, queries[0])
	if err != nil {
		t.Fatal(err)
	}
	id := listed.Files[0].ID
	at := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	v.deaf.Store(true)
	for i, w := range []struct {
		what  string
		write func() error
	}{
		{"a GORM statement", func() error {
			return f.s.db.WithContext(ctx).Model(&File{}).Where("id = ?", id).Update("name", "aaa_0.wav").Error
		}},
		{"a GORM transaction", func() error {
			return f.s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				if err := tx.Model(&File{}).Where("id = ?", id+1).Update("name", "aaa_1.wav").Error; err != nil {
					return err
				}
				return tx.Model(&File{}).Where("id = ?", id+2).Update("call_at", at).Error
			})
		}},
		{"a raw statement in a GORM transaction", func() error {
			return f.s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				return tx.Exec("UPDATE files SET name = 'aaa_2.wav' WHERE id = ?", id+3).Error
			})
		}},
		{"a nested GORM transaction", func() error {
			return f.s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				return tx.Transaction(func(tx *gorm.DB) error { return tx.Delete(&File{}, id+4).Error })
			})
		}},
		{"the store's transaction helper", func() error {
			return f.s.transaction(ctx, func(tx *gorm.DB) error {
				return tx.Model(&File{}).Where("id = ?", id+5).Update("name", "aaa_3.wav").Error
			})
		}},
		{"CreateFileRow", func() error {
			return f.s.CreateFileRow(ctx, &File{CustomerID: f.admin.CustomerID, Folder: f.folder, Name: "aaa_4.wav",
				Path: f.folder + "/aaa_4.wav", Kind: KindRecording, CallAt: &at, PoolID: f.pool.ID})
		}},
		{"CreateFileRows", func() error {
			return f.s.CreateFileRows(ctx, []File{{CustomerID: f.admin.CustomerID, Folder: f.folder, Name: "aaa_5.wav",
				Path: f.folder + "/aaa_5.wav", Kind: KindRecording, CallAt: &at, PoolID: f.pool.ID}})
		}},
		{"DeleteFileRow", func() error { return f.s.DeleteFileRow(ctx, id+6) }},
	} {
		check(fmt.Sprintf("before write %d", i)) // keeps the pages again
		if err := w.write(); err != nil {
			t.Fatal(w.what, err)
		}
		check("after " + w.what)
	}
	// A transaction rolled back changes nothing, and what is kept stays.
	check("before a rollback")
	reads = v.reads.Load()
	_ = f.s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&File{}).Where("id = ?", id).Update("name", "zzz.wav").Error; err != nil {
			return err
		}
		return fmt.Errorf("rolled back")
	})
	check("after a rollback")
	if n := v.reads.Load() - reads; n != 0 {
		t.Errorf("a rolled-back transaction dropped what was kept (%d reads)", n)
	}
	// Another process's write not heard yet: a Fresh query (its user wrote it, on another node)
	// sees it, and keeps the new version for everyone; before that, the kept page is answered.
	check("before a write not heard")
	if _, err := other.Exec("UPDATE files SET name = 'aaa_6.wav' WHERE id = ?", id+7); err != nil {
		t.Fatal(err)
	}
	stale, err := f.s.Browse(ctx, f.admin, queries[0])
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(stale.Files, func(x File) bool { return x.Name == "aaa_6.wav" }) {
		t.Fatal("a write not heard is in the kept page: the test shows nothing")
	}
	fq := queries[0]
	fq.Fresh = true
	got, err := f.s.Browse(ctx, f.admin, fq)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(got.Files, func(x File) bool { return x.Name == "aaa_6.wav" }) {
		t.Fatal("a Fresh query does not see another process's write not yet heard")
	}
	if p, err := f.s.Browse(ctx, f.admin, queries[0]); err != nil || !slices.ContainsFunc(p.Files, func(x File) bool { return x.Name == "aaa_6.wav" }) {
		t.Fatalf("after a Fresh query the next page is the old one (%v)", err)
	}
	v.deaf.Store(false)

	// Another process: seen once its notification arrived.
	for i, q := range []string{
		"UPDATE files SET name = 'bbb_0.wav' WHERE id = ?",
		"DELETE FROM files WHERE id = ?",
		"UPDATE files SET call_at = '2019-01-01 00:00:00+00' WHERE id = ?",
	} {
		check(fmt.Sprintf("before another process's write %d", i))
		heard := v.heard.Load()
		start := time.Now()
		if _, err := other.Exec(q, id+10+uint(i)); err != nil {
			t.Fatal(err)
		}
		for v.heard.Load() == heard {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("another process's write %d: no notification within 10 s", i)
			}
			time.Sleep(time.Millisecond)
		}
		t.Logf("another process's write %d: notification heard after %v", i, time.Since(start))
		check(fmt.Sprintf("after another process's write %d", i))
	}
	// A write to another customer's files leaves this customer's kept scopes alone.
	check("before another customer's write")
	reads = v.reads.Load()
	heard := v.heard.Load()
	if _, err := other.Exec("INSERT INTO files (customer_id, folder, name, path, kind) VALUES (?, 'call_recording/999001/1', 'x.wav', 'call_recording/999001/1/x.wav', ?)",
		f.other.CustomerID, KindRecording); err != nil {
		t.Fatal(err)
	}
	for v.heard.Load() == heard {
		time.Sleep(time.Millisecond)
	}
	if _, err := f.s.Browse(ctx, f.admin, queries[0]); err != nil {
		t.Fatal(err)
	}
	if n := v.reads.Load() - reads; n != 0 {
		t.Errorf("another customer's write dropped this customer's folder (%d reads)", n)
	}

	// The listening connection cut: nothing kept until it listens again.
	if _, err := other.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database() AND (query LIKE 'LISTEN%' OR query = '-- ping')"); err != nil {
		t.Fatal(err)
	}
	waitLive(t, v, false)
	if _, err := other.Exec("UPDATE files SET name = 'ccc.wav' WHERE id = ?", id+20); err != nil {
		t.Fatal(err)
	}
	check("with the listener gone")
	waitLive(t, v, true)
	check("listening again")
	check("listening again, read again")
	t.Logf("%d scope versions read in all", v.reads.Load())
}

// waitLive waits until v listens (or no longer does).
func waitLive(t *testing.T, v *scopeVersions, live bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v.mu.Lock()
		now := v.live
		v.mu.Unlock()
		if now == live {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watch's listening is not %v after 20 s", live)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
