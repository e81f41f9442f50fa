// Package models holds callrec's data (GORM models) and the Store, the only code that touches the
// database. Every query that reads customer data takes an Actor and is scoped by it, so one customer
// can never see another's rows: a foreign ID is simply ErrNotFound.
package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Store is the Control Panel's data access.
type Store struct {
	db *gorm.DB
	// stmts holds prepared statements of the hottest queries, run without GORM (see prepared).
	stmts  sync.Map // query -> *sql.Stmt
	nstmts atomic.Int32
	cache  readCache
	lists  listCache
	// linkKeyCache holds the download links' key once read (linkKey).
	linkKeyCache atomic.Pointer[[]byte]
	// Now is the clock; tests may replace it.
	Now func() time.Time
	// DefaultAnnouncements gives the standard announcement texts by slot and language ("de", "en").
	// cmd/callrec fills it from the shipped prompts so models needs no engine import.
	DefaultAnnouncements func(slot, lang string) string
}

// Open opens (and migrates) the database. dsn is a SQLite file path; its folder is created.
func Open(dsn string) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("models: empty database path")
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("models: %w", err)
		}
	}
	// WAL lets the File Browser read while the engine writes call rows; busy_timeout rides out
	// short write contention instead of failing; _txlock=immediate avoids upgrade deadlocks.
	full := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate&_synchronous=NORMAL"
	db, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: driverName, DSN: full}), &gorm.Config{
		Logger:                                   logger.Discard,
		DisableForeignKeyConstraintWhenMigrating: false,
		TranslateError:                           true,
		// Prepared once per connection: parsing and planning the same SQL on every request was a
		// measurable part of a File Browser page. The cache is bounded (queries with variable IN
		// lists vary).
		PrepareStmt:        true,
		PrepareStmtMaxSize: 512,
		PrepareStmtTTL:     time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("models: open %s: %w", path, err)
	}
	// Keep connections open: database/sql keeps only two idle ones by default, so under
	// concurrent page views it opened and closed SQLite connections (each open runs the DSN's
	// pragmas) and lost their prepared statements with them.
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.SetMaxIdleConns(64)
	}
	s := &Store{db: db, Now: time.Now, DefaultAnnouncements: func(string, string) string { return "" }}
	if err := s.cache.watch(db); err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	if err := s.migrate(); err != nil {
		return nil, err
	}
	return s, nil
}

// driverName is mattn's SQLite driver with callrec's per-connection settings.
const driverName = "sqlite3_callrec"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// Read the database through a shared memory map: every connection otherwise copies
		// the pages it reads into its own 2 MB cache, and with tens of concurrent File Browser
		// requests on as many connections most reads missed that cache and became a read()
		// of a page the kernel already had.
		_, err := c.Exec("PRAGMA mmap_size = 1073741824", nil)
		return err
	}})
}

// allModels lists every table; each feature adds its models here.
func allModels() []any {
	return []any{
		&Customer{}, &User{}, &Pool{}, &PoolNumber{}, &PriceItem{}, &APIToken{}, &AuditEvent{},
		&File{}, &Call{}, &CallEvent{}, &Recording{}, &Announcement{},
		&ModuleBooking{}, &CallRecordingSettings{}, &FTPCredential{},
		&WebhookEndpoint{}, &WebhookDelivery{}, &Lease{}, &ServerSecret{},
	}
}

func (s *Store) migrate() error {
	if err := s.db.AutoMigrate(allModels()...); err != nil {
		return fmt.Errorf("models: migrate: %w", err)
	}
	if err := s.migrateBrowse(); err != nil {
		return fmt.Errorf("models: migrate: %w", err)
	}
	// The session table of scs' sqlite3store.
	// One statement per Exec: a prepared statement runs only the first of several.
	if err := s.db.Exec(`CREATE TABLE IF NOT EXISTS sessions (
		token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`).Error; err != nil {
		return err
	}
	return s.db.Exec(`CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions(expiry)`).Error
}

// bounded is the database for a query whose work is bounded (a lookup by key, a page with a
// LIMIT): it runs to the end even if the request is cancelled. The SQLite driver runs every
// step of a cancellable query in a new goroutine so that it can interrupt it: for a File
// Browser page, a goroutine and a channel hand-off per row, which cost more than reading it.
// Queries that can run long (scans, exports) keep the request's context.
func (s *Store) bounded(ctx context.Context) *gorm.DB {
	return s.db.WithContext(context.WithoutCancel(ctx))
}

// queryRow runs one of the per-request lookups (the session's user, a folder's owner, a
// folder's total) as a prepared statement straight on database/sql: GORM's statement building
// and reflection cost more than the lookup itself. The context's cancellation is dropped as in
// bounded.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	if st := s.prepared(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.SQL().QueryRowContext(ctx, query, args...) // database/sql has no Row constructor
}

// query is queryRow for several rows (the File Browser's list).
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	if st := s.prepared(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.SQL().QueryContext(ctx, query, args...)
}

// maxPrepared bounds the statement cache. database/sql prepares a statement again on every
// connection that runs it (up to 64), so the cache's memory is statements x connections; the
// lists people use need a few dozen texts (sort, direction, which filters), and a query text
// beyond the bound runs unprepared rather than growing it.
const maxPrepared = 128

// prepared is the cached prepared statement for query, or nil when it cannot be prepared (the
// caller runs the query unprepared and gets its error from there) or the cache is full.
func (s *Store) prepared(ctx context.Context, query string) *sql.Stmt {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	if s.nstmts.Load() >= maxPrepared {
		return nil
	}
	st, err := s.SQL().PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if old, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return old.(*sql.Stmt)
	}
	s.nstmts.Add(1)
	return st
}

// SQL exposes the connection pool for the session store.
func (s *Store) SQL() *sql.DB {
	d, _ := s.db.DB()
	return d
}

// Close closes the database.
func (s *Store) Close() error { return s.SQL().Close() }

// Ping checks the database answers (for /healthz).
func (s *Store) Ping(ctx context.Context) error { return s.SQL().PingContext(ctx) }
