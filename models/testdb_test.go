package models

import (
	"database/sql"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of openRaw

	"callrec/internal/storetest"
)

// The package's tests run on SQLite, or on PostgreSQL with CALLREC_TEST_DB=postgres (make test
// runs both).
func TestMain(m *testing.M) {
	storetest.UseTemplate(migrated)
	storetest.Main(m)
}

// migrated makes dsn's database what models.Open leaves (PostgreSQL tests copy it).
func migrated(dsn string) error {
	s, err := Open(dsn)
	if err != nil {
		return err
	}
	return s.Close()
}

// openTestStore opens a store on an empty database of the chosen backend, closed when t ends.
func openTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(storetest.DSN(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB is another process's connection to a store's database: its writes bypass the Store
// (and its caches) entirely. Statements are written with ? on both backends.
type rawDB struct {
	*sql.DB
	d dialect
}

func openRaw(t testing.TB, s *Store) rawDB {
	t.Helper()
	var db *sql.DB
	var err error
	if s.Backend() == "postgres" {
		db, err = sql.Open("pgx", s.dsn)
	} else {
		db, err = sql.Open(driverName, "file:"+strings.TrimPrefix(s.dsn, "sqlite:")+"?_busy_timeout=10000")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return rawDB{db, s.d}
}

func (r rawDB) Exec(q string, args ...any) (sql.Result, error) {
	return r.DB.Exec(r.d.rebind(q), args...)
}

// sqliteOnly skips tests of SQLite's own history (databases made before versioned migrations).
func sqliteOnly(t testing.TB, s *Store) {
	t.Helper()
	if s.Backend() != "sqlite" {
		t.Skip("a database from before versioned migrations is always SQLite")
	}
}
