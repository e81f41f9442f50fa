package models

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestListCacheFollowsWrites checks that listings answered from the listing cache are what a
// store with no cache answers, after every kind of write to the files: through the store, as
// raw SQL, and by another process's connection (on PostgreSQL once its notification arrived);
// and that unchanged listings are answered from
// the cache (also when another folder of the customer changed).
func TestListCacheFollowsWrites(t *testing.T) {
	ctx := context.Background()
	f := newBrowseFixture(t, 300)
	path := f.s.dsn
	other := openRaw(t, f.s)
	second := "call_recording/337826/4971121843999"
	queries := []BrowseQuery{
		{Folder: f.folder, Sort: "name", Brief: true},
		{Folder: f.folder, Sort: "caller", Desc: true, Limit: 20},
		{Folder: f.folder, Number: "49170000007", Limit: 2},  // filtered: its count is cached too
		{Folder: f.folder, Sort: "name", Page: 3, Limit: 10}, // by offset: counted
		{Folder: second, Sort: "name"},
		{},                     // the customer's recordings (the API's list)
		{PoolID: f.pool.ID},    // one pool's
		{Number: "4915258878"}, // a number over all folders
	}
	// fresh answers q from a store that has seen nothing yet: another handle on the same
	// database, its caches emptied before every query.
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fresh := func(q BrowseQuery) BrowsePage {
		t.Helper()
		s.lists.clear()
		s.cache.invalidate()
		p, err := s.Browse(ctx, f.admin, q)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	check := func(when string, wantHits bool) {
		t.Helper()
		for i, q := range queries {
			hits := f.s.lists.hits.Load()
			got, err := f.s.Browse(ctx, f.admin, q)
			if err != nil {
				t.Fatal(err)
			}
			want := fresh(q)
			got.Listing, want.Listing = 0, 0 // numbers of two stores' caches
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: query %d %+v:\n got %d files, total %d, first %+v\nwant %d files, total %d, first %+v", when, i, q,
					len(got.Files), got.Total, first(got.Files), len(want.Files), want.Total, first(want.Files))
			}
			if hit := f.s.lists.hits.Load() > hits; wantHits && !hit && q.Folder == f.folder {
				t.Errorf("%s: query %d not answered from the cache", when, i)
			}
		}
	}
	check("first reads", false)
	check("unchanged", true)

	listed, err := f.s.Browse(ctx, f.admin, queries[0])
	if err != nil {
		t.Fatal(err)
	}
	id := listed.Files[0].ID
	// byOther is a write by another process; on PostgreSQL this one's kept scope versions
	// follow it once its notification has arrived (scopeVersions), which this waits for.
	byOther := func(q string, args ...any) func() error {
		return func() error {
			heard := f.s.versions.heard.Load()
			if _, err := other.Exec(q, args...); err != nil {
				return err
			}
			for deadline := time.Now().Add(10 * time.Second); f.s.Backend() == "postgres" && f.s.versions.heard.Load() == heard; {
				if time.Now().After(deadline) {
					return fmt.Errorf("no notification of another process's write within 10 s")
				}
				time.Sleep(time.Millisecond)
			}
			return nil
		}
	}
	steps := []struct {
		what  string
		write func() error
	}{
		{"caller changed by the store", func() error {
			return f.s.db.WithContext(ctx).Model(&File{}).Where("id = ?", id).Update("a", "4917000000799").Error
		}},
		{"name changed by another process", byOther("UPDATE files SET name = 'zzz.wav', path = ? WHERE id = ?", f.folder+"/zzz.wav", id)},
		{"call time changed by another process", byOther("UPDATE files SET call_at = ? WHERE id = ?", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), id+1)},
		{"file added", func() error {
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			return f.s.CreateFileRow(ctx, &File{CustomerID: f.admin.CustomerID, Folder: f.folder, Name: "aaa.wav",
				Path: f.folder + "/aaa.wav", Kind: KindRecording, CallAt: &at, A: "4917000000700", PoolID: f.pool.ID})
		}},
		{"file deleted", func() error { return f.s.DeleteFileRow(ctx, id+2) }},
		{"file moved to another folder", byOther("UPDATE files SET folder = ?, path = ? || '/' || name WHERE id = ?", second, second, id+3)},
		{"pool changed", func() error {
			return f.s.db.WithContext(ctx).Exec("UPDATE files SET pool_id = 0 WHERE id = ?", id+4).Error
		}},
	}
	for _, st := range steps {
		if err := st.write(); err != nil {
			t.Fatal(st.what, err)
		}
		check(st.what, false)
		check(st.what+", read again", true)
	}
	// A write in another folder leaves this folder's listings where they are.
	if err := byOther("DELETE FROM files WHERE folder = ?", second)(); err != nil {
		t.Fatal(err)
	}
	hits := f.s.lists.hits.Load()
	if _, err := f.s.Browse(ctx, f.admin, queries[0]); err != nil || f.s.lists.hits.Load() != hits+1 {
		t.Fatalf("a write to another folder dropped this folder's listing (%v)", err)
	}
	check("other folder emptied", true)
}

func first(fs []File) File {
	if len(fs) == 0 {
		return File{}
	}
	return fs[0]
}

// TestFolderStatsVersionMigration opens a database whose folder_stats has no version column and
// whose triggers are the old ones: it gets the column and the current triggers, and a write
// moves the version.
func TestFolderStatsVersionMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// A database of a build from before versioned migrations: no schema_migrations.
	for _, q := range []string{"DROP TABLE schema_migrations", "DROP INDEX idx_booking_in_force", "DROP TRIGGER files_stats_insert", "DROP TRIGGER files_stats_delete", "DROP TRIGGER files_stats_update",
		"ALTER TABLE folder_stats DROP COLUMN version",
		`CREATE TRIGGER files_stats_insert AFTER INSERT ON files BEGIN
			INSERT INTO folder_stats (customer_id, folder, kind, files, bytes)
			VALUES (new.customer_id, new.folder, new.kind, 1, COALESCE(new.size, 0))
			ON CONFLICT (customer_id, folder, kind) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
		END`,
		"INSERT INTO files (customer_id, folder, name, path, kind, size) VALUES (1, 'announcements', 'a.wav', 'announcements/a.wav', 'announcement', 10)",
	} {
		if err := s.db.Exec(q).Error; err != nil {
			t.Fatal(q, err)
		}
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	files, v0, err := s.scopeStats(ctx, 1, "announcements")
	if err != nil || files != 1 {
		t.Fatalf("%d files, %v", files, err)
	}
	if err := s.db.Exec("UPDATE files SET name = 'b.wav', path = 'announcements/b.wav'").Error; err != nil {
		t.Fatal(err)
	}
	files, v1, err := s.scopeStats(ctx, 1, "announcements")
	if err != nil || files != 1 || v1 <= v0 {
		t.Fatalf("after a rename: %d files, version %d -> %d, %v", files, v0, v1, err)
	}
}

// clear empties the cache (benchmarks of the uncached path).
func (c *listCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.old, c.rows = nil, nil, 0
}

// TestListCacheBounded checks the cache's bound: at most two generations of listCacheRows rows,
// an entry of the older generation moves to the newer when it is hit, and a version that moved
// is a miss.
func TestListCacheBounded(t *testing.T) {
	var c listCache
	page := make([]File, 50)
	key := func(i int) string { return listKey('l', "q", []any{i}) }
	for i := range 10 * listCacheRows / len(page) {
		c.put(key(i), listEntry{version: 1, files: page})
		if i <= 3 { // 3 is kept alive by hits from here on
			continue
		}
		if _, ok := c.get(key(3), 1); !ok {
			t.Fatalf("after %d puts the entry in use was dropped", i)
		}
		if total := c.rows + rowsOf(c.old); total > 2*listCacheRows {
			t.Fatalf("%d rows held", total)
		}
	}
	if _, ok := c.get(key(5), 1); ok {
		t.Fatal("an old entry nobody asked for is still there")
	}
	if _, ok := c.get(key(3), 2); ok {
		t.Fatal("a hit at another version")
	}
	if k1, k2 := listKey('l', "q", []any{"a", "bc"}), listKey('l', "q", []any{"ab", "c"}); k1 == k2 {
		t.Fatal("two argument lists share a key")
	}
	if listKey('l', "q", []any{3.5}) != "" {
		t.Fatal("an argument the key cannot spell was keyed")
	}
}

func rowsOf(m map[string]listEntry) int {
	n := 0
	for _, e := range m {
		n += len(e.files)
	}
	return n
}

// TestListCacheDirections reads, at the same row, the page before it in ascending order and
// the page after it in descending order: the same SQL statement, different pages. Each must
// come out as a fresh store gives it, in either order of asking.
func TestListCacheDirections(t *testing.T) {
	ctx := context.Background()
	f := newBrowseFixture(t, 300)
	mid, err := f.s.Browse(ctx, f.admin, BrowseQuery{Folder: f.folder, Sort: "date", Page: 3, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	row := mid.Files[10]
	v := sortValue(row, "date")
	queries := []BrowseQuery{
		{Folder: f.folder, Sort: "date", Desc: true, Limit: 20, Cursor: cursor{Sort: "date", Desc: true, Value: v, ID: row.ID}.encode()},
		{Folder: f.folder, Sort: "date", Desc: false, Limit: 20, Cursor: cursor{Sort: "date", Desc: false, Value: v, ID: row.ID, Before: true}.encode()},
	}
	var want [2]BrowsePage
	for i, q := range queries {
		s, err := Open(dbPath(t, f.s))
		if err != nil {
			t.Fatal(err)
		}
		if want[i], err = s.Browse(ctx, f.admin, q); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if slices.Equal(ids(want[0].Files), ids(want[1].Files)) {
		t.Fatal("the two pages are the same: the test shows nothing")
	}
	for _, order := range [][]int{{0, 1, 0, 1}, {1, 0, 1, 0}} {
		f.s.lists.clear()
		for _, i := range order {
			got, err := f.s.Browse(ctx, f.admin, queries[i])
			if err != nil {
				t.Fatal(err)
			}
			if got.Listing = 0; !reflect.DeepEqual(ids(got.Files), ids(want[i].Files)) || got.Next != want[i].Next || got.Prev != want[i].Prev {
				t.Fatalf("query %d after %v: files %v next %q prev %q\nwant files %v next %q prev %q", i, order,
					ids(got.Files), got.Next, got.Prev, ids(want[i].Files), want[i].Next, want[i].Prev)
			}
		}
	}
}

func ids(fs []File) []uint {
	out := make([]uint, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

func dbPath(t *testing.T, s *Store) string { return s.dsn }

// TestListCacheConcurrentMisses has many requests miss the same listing at once (they share
// one read) while a writer changes the folder: every answer is a listing of the folder as it
// was at some moment, none mixes two.
func TestListCacheConcurrentMisses(t *testing.T) {
	ctx := context.Background()
	f := newBrowseFixture(t, 200)
	q := BrowseQuery{Folder: f.folder, Sort: "name", Limit: 20}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 16 {
		wg.Go(func() {
			for i := range 20 {
				p, err := f.s.Browse(ctx, f.admin, q)
				if err != nil {
					errs <- err
					return
				}
				// The writer renames files to "aaa_<n>.wav" one at a time, which sorts them first:
				// a consistent page starts with the renamed ones in order, then the others.
				if len(p.Files) != 20 || !slices.IsSortedFunc(p.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) }) {
					errs <- fmt.Errorf("worker %d, read %d: %d files, sorted %v", w, i, len(p.Files), ids(p.Files))
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			if err := f.s.db.Exec("UPDATE files SET name = ? WHERE id = ?", fmt.Sprintf("aaa_%03d.wav", i), 100+i).Error; err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := f.s.Browse(ctx, f.admin, q)
	if err != nil || got.Files[0].Name != "aaa_000.wav" || got.Files[19].Name != "aaa_019.wav" {
		t.Fatalf("after the writes: %v %v", ids(got.Files), err)
	}
}

// TestListingIdentity: a page's Listing names its rows: the same listing read again gives the
// same number, another listing or the same one after a write to its folder another, so a view
// kept under it (web's listViews) is never shown for other rows.
func TestListingIdentity(t *testing.T) {
	ctx := context.Background()
	f := newBrowseFixture(t, 60)
	q := BrowseQuery{Folder: f.folder, Sort: "name", Limit: 20}
	browse := func(q BrowseQuery) BrowsePage {
		t.Helper()
		p, err := f.s.Browse(ctx, f.admin, q)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first, again := browse(q), browse(q)
	if first.Listing == 0 || again.Listing != first.Listing {
		t.Fatalf("the same listing twice: %d, %d", first.Listing, again.Listing)
	}
	other := q
	other.Desc = true
	if p := browse(other); p.Listing == 0 || p.Listing == first.Listing {
		t.Fatalf("another order has the listing %d of the first (%d)", p.Listing, first.Listing)
	}
	if err := f.s.db.Exec("UPDATE files SET a = ? WHERE id = ?", "4917000999", first.Files[0].ID).Error; err != nil {
		t.Fatal(err)
	}
	if p := browse(q); p.Listing == 0 || p.Listing == first.Listing || p.Files[0].A != "4917000999" {
		t.Fatalf("after a write: listing %d (was %d), caller %q", p.Listing, first.Listing, p.Files[0].A)
	}
}
