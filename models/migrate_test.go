package models

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"callrec/internal/storetest"
)

// TestUpgradeMainDatabase opens a database made by the build before versioned migrations (the
// dump in testdata, written by that build's models with a booking, calls with recordings, an
// announcement file, FTP credentials, a token and a session): it is migrated in place, keeps
// every row, behaves like a new one, and ends with exactly a new database's schema.
//
// Builds between the storage state and versioned migrations had added the storage columns with
// AutoMigrate: such a database upgrades too (migration 3 adds only what is missing).
func TestUpgradeMainDatabase(t *testing.T) {
	t.Run("single-machine release", func(t *testing.T) { upgradeMain(t, nil) })
	t.Run("with the storage state by AutoMigrate", func(t *testing.T) {
		upgradeMain(t, []string{"ALTER TABLE `recordings` ADD `storage` text", "ALTER TABLE `recordings` ADD `sha256` text",
			"ALTER TABLE `recordings` ADD `store_attempts` integer", "ALTER TABLE `recordings` ADD `store_error` text",
			"ALTER TABLE `recordings` ADD `stored_at` datetime", "CREATE INDEX `idx_recordings_storage` ON `recordings`(`storage`)"})
	})
}

func upgradeMain(t *testing.T, alter []string) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "callrec.db")
	loadDump(t, path, "testdata/main-schema.sql")
	for _, q := range alter {
		if _, err := sqliteDB(t, path).Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	before := rowCounts(t, path)
	var seqBefore int64
	if err := sqliteDB(t, path).QueryRow(`SELECT seq FROM sqlite_sequence WHERE name = 'recordings'`).Scan(&seqBefore); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.MigrationStatus(ctx)
	if err != nil || len(st) != len(migrations) {
		t.Fatalf("status %+v %v", st, err)
	}
	for _, m := range st {
		if m.AppliedAt.IsZero() || m.Unknown {
			t.Fatalf("migration %d not applied: %+v", m.Version, m)
		}
	}
	after := rowCounts(t, path)
	for table, n := range before {
		if after[table] != n {
			t.Errorf("%s: %d rows before, %d after", table, n, after[table])
		}
	}
	// The old data works: logins, the File Browser's totals (folder_stats carried over), the
	// booking in force, and the triggers still count.
	if _, err := s.Authenticate(ctx, "admin", "admin-password-1"); err != nil {
		t.Fatal("admin login:", err)
	}
	admin, err := s.UserByName(ctx, "demo-admin")
	if err != nil {
		t.Fatal(err)
	}
	a := ActorOf(admin)
	folder := "call_recording/337826/4971121843140"
	page, err := s.Browse(ctx, a, BrowseQuery{Folder: folder})
	if err != nil || page.Total != 3 || len(page.Files) != 3 {
		t.Fatalf("browse: total %d, %d files, %v", page.Total, len(page.Files), err)
	}
	ps, _ := s.Pools(ctx, a)
	cr, err := s.CallRecordingOf(ctx, a, ps[0].ID)
	if err != nil || !cr.Booked() {
		t.Fatalf("booking lost: %+v %v", cr.Booking, err)
	}
	if _, created, err := s.BookCallRecording(ctx, a, ps[0].ID, BookingInput{Accepted: true, Notice: LegalNotice{Text: "x", Language: "de"}}); err != nil || created {
		t.Fatalf("booked again: %v %v", created, err)
	}
	if _, err := s.DeleteRecordings(ctx, a, "", []uint{page.Files[0].ID}, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if page, _ = s.Browse(ctx, a, BrowseQuery{Folder: folder}); page.Total != 2 {
		t.Fatalf("after a delete: total %d", page.Total)
	}
	// Same schema as a database made new.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	fs, err := Open(fresh)
	if err != nil {
		t.Fatal(err)
	}
	fs.Close()
	if got, want := sqliteSchema(t, path), sqliteSchema(t, fresh); !slices.Equal(got, want) {
		t.Errorf("upgraded schema differs from a new one:\n got %q\nwant %q", got, want)
	}
	// What AutoMigrate left NULL in the rows it found is what a new row gets; the ids of
	// deleted recordings stay used.
	var nulls, seq int64
	db := sqliteDB(t, path)
	if err := db.QueryRow(`SELECT count(*) FROM recordings WHERE storage IS NULL OR sha256 IS NULL OR store_attempts IS NULL OR store_error IS NULL`).Scan(&nulls); err != nil || nulls != 0 {
		t.Errorf("%d recordings with NULL storage state (%v)", nulls, err)
	}
	if err := db.QueryRow(`SELECT seq FROM sqlite_sequence WHERE name = 'recordings'`).Scan(&seq); err != nil || seq != seqBefore {
		t.Errorf("recordings' sequence %d after the rebuild, %d before (%v)", seq, seqBefore, err)
	}
}

// loadDump makes a SQLite database at path from a sqlite3 .dump file.
func loadDump(t *testing.T, path, dump string) {
	t.Helper()
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(driverName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(string(b)); err != nil {
		t.Fatal(err)
	}
}

func sqliteDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driverName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rowCounts(t *testing.T, path string) map[string]int64 {
	t.Helper()
	db := sqliteDB(t, path)
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]int64{}
	for _, tb := range tables {
		var n int64
		if err := db.QueryRow("SELECT count(*) FROM " + tb).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tb] = n
	}
	return out
}

// sqliteSchema is every table, index and trigger definition, whitespace squeezed.
func sqliteSchema(t *testing.T, path string) []string {
	t.Helper()
	rows, err := sqliteDB(t, path).Query("SELECT type, name, COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ, name, def string
		rows.Scan(&typ, &name, &def)
		out = append(out, typ+" "+name+": "+strings.Join(strings.Fields(def), " "))
	}
	return out
}

// TestConcurrentMigrations starts several stores on one new database at once: every migration
// is applied exactly once, by one of them, and all of them end up with the whole schema.
func TestConcurrentMigrations(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.EmptyDSN(t, "")
	const n = 6
	var wg sync.WaitGroup
	applied := make(chan []MigrationState, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			s, err := Connect(dsn)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			a, err := s.Migrate(ctx)
			if err != nil {
				errs <- err
				return
			}
			applied <- a
		})
	}
	wg.Wait()
	close(errs)
	close(applied)
	for err := range errs {
		t.Fatal(err)
	}
	var versions []int
	for a := range applied {
		for _, m := range a {
			versions = append(versions, m.Version)
		}
	}
	slices.Sort(versions)
	want := make([]int, len(migrations))
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(versions, want) {
		t.Fatalf("applied %v, want each of %v once", versions, want)
	}
	s, err := Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rows int64
	if err := s.db.Table("schema_migrations").Count(&rows).Error; err != nil || rows != int64(len(migrations)) {
		t.Fatalf("schema_migrations has %d rows (%v)", rows, err)
	}
}

// TestMigrationFailureLeavesNothing: a migration whose second statement fails leaves neither its
// first statement's change nor its version; the migrations before it stay applied.
func TestMigrationFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	bad := append(slices.Clone(migrations), Migration{Version: len(migrations) + 1, Name: "broken",
		SQL: []string{"CREATE TABLE half_done (id {{id}}, note {{text}})", "CREATE TABLE half_done (id {{id}})"}})
	if _, err := s.migrateTo(ctx, bad); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("broken migration: %v", err)
	}
	if ok, err := s.d.hasTable(s.db, "half_done"); err != nil || ok {
		t.Fatalf("half_done exists: %v %v", ok, err)
	}
	st, err := s.MigrationStatus(ctx)
	if err != nil || len(st) != len(migrations) {
		t.Fatalf("status %+v %v", st, err)
	}
	// Fixed, it applies; a database that has it reads as Unknown to a build without it.
	good := append(slices.Clone(migrations), Migration{Version: len(migrations) + 1, Name: "fixed",
		SQL: []string{"CREATE TABLE half_done (id {{id}}, note {{text}}, at {{time}}, ok {{bool}}, data {{bytes}}, n {{bigint}})"}})
	if a, err := s.migrateTo(ctx, good); err != nil || len(a) != 1 || a[0].Name != "fixed" {
		t.Fatalf("fixed migration: %+v %v", a, err)
	}
	if err := s.db.Exec("INSERT INTO half_done (note, at, ok, data, n) VALUES (?, ?, ?, ?, ?)", "x", s.Now(), true, []byte{0, 1}, 1<<40).Error; err != nil {
		t.Fatal(err)
	}
	st, _ = s.MigrationStatus(ctx)
	if last := st[len(st)-1]; !last.Unknown || last.Name != "fixed" {
		t.Fatalf("status of a version this build lacks: %+v", last)
	}
	if err := checkMigrations([]Migration{{Version: 1, Name: "a"}, {Version: 3, Name: "b"}}); err == nil {
		t.Fatal("a gap in the versions was accepted")
	}
}

// TestSchemaHasEveryField: every field of every model has its column after the migrations. A
// field added to a model without a migration fails here, on both databases.
func TestSchemaHasEveryField(t *testing.T) {
	s := openTestStore(t)
	m := s.db.Migrator()
	for _, model := range liveModels() {
		sch, err := schema.Parse(model, &sync.Map{}, s.db.NamingStrategy)
		if err != nil {
			t.Fatal(err)
		}
		if !m.HasTable(sch.Table) {
			t.Errorf("no table %s for %s", sch.Table, sch.Name)
			continue
		}
		for _, f := range sch.Fields {
			if f.DBName != "" && !m.HasColumn(model, f.DBName) {
				t.Errorf("%s.%s has no column %s: add a migration", sch.Name, f.Name, f.DBName)
			}
		}
	}
	// And the unique rules hold on both.
	root := Actor{Role: RolePlatformAdmin}
	ctx := context.Background()
	c, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "A", SubscriberID: "1", Language: "de"})
	if err != nil {
		t.Fatal(err)
	}
	dup := s.db.Create(&Customer{Name: "B", SubscriberID: "1", Language: "de", TimeZone: "UTC"}).Error
	if !errors.Is(dup, gorm.ErrDuplicatedKey) {
		t.Fatalf("second subscriber 1: %v", dup)
	}
	_ = c
}
