// Package storetest chooses the database a test's store runs on: SQLite in the test's folder by
// default, a fresh PostgreSQL database (internal/pgtest) when CALLREC_TEST_DB=postgres. `make
// test` runs the store's and the web's tests once on each. It hands out connection strings
// only, so that the models package's own tests can use it too.
//
// A package whose tests use DSN calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
package storetest

import (
	"os"
	"path/filepath"
	"testing"

	"callrec/internal/pgtest"
)

// Env chooses the backend: "postgres", or "sqlite" (the default, also when unset).
const Env = "CALLREC_TEST_DB"

// Postgres reports whether the tests run on PostgreSQL.
func Postgres() bool { return os.Getenv(Env) == "postgres" }

// Backend is "postgres" or "sqlite".
func Backend() string {
	if Postgres() {
		return "postgres"
	}
	return "sqlite"
}

// Main runs the package's tests (and stops the shared PostgreSQL cluster afterwards).
func Main(m *testing.M) { pgtest.Main(m) }

// Enable is Main for a TestMain that also runs another helper's (pgtest.Enable).
func Enable() (stop func()) { return pgtest.Enable() }

// prepare, when set (UseTemplate), fills a PostgreSQL database the way the package's tests
// expect a new one.
var prepare func(dsn string) error

// UseTemplate makes DSN's PostgreSQL databases copies of one that prepare filled once (the
// migrated schema: models.Open and Close), instead of empty ones that every test migrates.
// SQLite databases stay new files (migrating one is quick).
func UseTemplate(p func(dsn string) error) { prepare = p }

// DSN is a database for t on the chosen backend: a SQLite file in dir (t.TempDir() when dir is
// ""), or a PostgreSQL database dropped when t ends (empty, or a copy of UseTemplate's).
func DSN(t testing.TB, dir string) string {
	t.Helper()
	if prepare != nil && Postgres() {
		return pgtest.DBFrom(t, prepare)
	}
	return EmptyDSN(t, dir)
}

// EmptyDSN is DSN without UseTemplate's copy: a database nothing has touched.
func EmptyDSN(t testing.TB, dir string) string {
	t.Helper()
	switch v := os.Getenv(Env); v {
	case "postgres":
		return pgtest.DB(t)
	case "", "sqlite":
	default:
		t.Fatalf("storetest: %s=%q: want sqlite or postgres", Env, v)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	return filepath.Join(dir, "callrec.db")
}
