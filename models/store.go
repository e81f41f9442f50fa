// Package models holds callrec's data (GORM models) and the Store, the only code that touches the
// database. Every query that reads customer data takes an Actor and is scoped by it, so one customer
// can never see another's rows: a foreign ID is simply ErrNotFound.
package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"gorm.io/gorm"
)

// Store is the Control Panel's data access.
type Store struct {
	db  *gorm.DB
	d   dialect
	dsn string // as given to Open
	// stmts holds prepared statements of the hottest queries, run without GORM (see prepared).
	stmts  sync.Map // query -> *sql.Stmt
	nstmts atomic.Int32
	cache  readCache
	lists  listCache
	// versions keeps the scopes' versions on PostgreSQL (scopeversions.go).
	versions scopeVersions
	stop     context.CancelFunc // ends the dialect's watch
	watched  <-chan struct{}    // closed when the watch has ended
	// listTrace, when set (tests), hears each File Browser listing statement read from the
	// database, to check its plan (browse_plan_test.go).
	listTrace func(query string, args []any)
	// linkKeyCache holds the download links' key once read (linkKey).
	linkKeyCache atomic.Pointer[[]byte]
	// NodeID is this process's node in a cluster (--node-id; empty: a single machine). Calls
	// are saved with it, and what a restart repairs, interrupts and uploads is only this
	// node's (and rows from before clustering, which carry none).
	NodeID string
	// Now is the clock; tests may replace it.
	Now func() time.Time
	// DefaultAnnouncements gives the standard announcement texts by slot and language ("de", "en").
	// cmd/callrec fills it from the shipped prompts so models needs no engine import.
	DefaultAnnouncements func(slot, lang string) string
}

// Open opens the database and applies the pending migrations. dsn is a PostgreSQL URL
// (postgres://user:pass@host:port/db?sslmode=...) or a SQLite file path, whose folder is created.
func Open(dsn string) (*Store, error) {
	s, err := Connect(dsn)
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(context.Background()); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Connect opens the database without migrating it (`callrec migrate --status` looks first).
// A PostgreSQL server that does not answer is an error here, not at the first request.
func Connect(dsn string) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("models: empty database path")
	}
	var d dialect
	var db *gorm.DB
	var err error
	if isPostgres(dsn) {
		d, db, err = openPostgres(dsn)
	} else {
		d, db, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, d: d, dsn: dsn, Now: time.Now, DefaultAnnouncements: func(string, string) string { return "" }}
	if err := s.cache.watch(db); err != nil {
		s.Close()
		return nil, fmt.Errorf("models: %w", err)
	}
	if s.d.shared() { // scopeVersions: only where another process's scopeStats is a round trip
		sqlDB, err := db.DB()
		if err == nil {
			err = s.versions.watch(db, sqlDB)
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("models: %w", err)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.watched = s.d.watch(ctx, s.heard)
	return s, nil
}

// heard is what the dialect's watch tells (on PostgreSQL): the read cache is dropped on every
// reset and notification of its tables, the scope versions as scopeVersions says.
func (s *Store) heard(n watchNotice) {
	switch {
	case n.reset:
		s.cache.invalidate()
		s.versions.listening(n.live)
	case n.channel == filesChannel:
		s.versions.notified(n.payload)
	default:
		s.cache.invalidate()
	}
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
	return s.SQL().QueryRowContext(ctx, s.d.rebind(query), args...) // database/sql has no Row constructor
}

// query is queryRow for several rows (the File Browser's list).
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	if st := s.prepared(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.SQL().QueryContext(ctx, s.d.rebind(query), args...)
}

// maxPrepared bounds the statement cache. database/sql prepares a statement again on every
// connection that runs it (up to 64), so the cache's memory is statements x connections; the
// lists people use need a few dozen texts (sort, direction, which filters), and a query text
// beyond the bound runs unprepared rather than growing it.
const maxPrepared = 128

// prepared is the cached prepared statement for query, or nil when it cannot be prepared (the
// caller runs the query unprepared and gets its error from there), the cache is full, or the
// driver caches statements itself (dialect.prepares).
func (s *Store) prepared(ctx context.Context, query string) *sql.Stmt {
	if !s.d.prepares() {
		return nil
	}
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

// SessionStore is scs' store for the sessions table of this database (migration 1 made it),
// deleting expired sessions every cleanup interval.
func (s *Store) SessionStore(cleanup time.Duration) scs.Store { return s.d.sessions(s.SQL(), cleanup) }

// SessionCacheTTL bounds how long a process may answer a session from memory without reading the
// sessions table: 0 (until the session expires) where this process is the table's only writer
// (SQLite: only serve writes sessions), readCacheTTL where other processes write it too
// (PostgreSQL): a logout on one node is then seen by every other within that bound, the same
// bound in which they see a changed password, a disabled or deleted user or a changed role
// (the read cache, which those checks go through).
func (s *Store) SessionCacheTTL() time.Duration {
	if s.d.shared() {
		return readCacheTTL
	}
	return 0
}

// SessionUpdater writes a session that is in the table and reports false, writing nothing,
// when its row is gone: deleted by another process (a logout on another node) while this one
// still had it in memory. scs' own Commit inserts a missing row, which would bring that session
// back to life. nil where this process is the table's only writer (SQLite).
func (s *Store) SessionUpdater() func(token string, data []byte, expiry time.Time) (bool, error) {
	if !s.d.shared() {
		return nil
	}
	q := s.d.rebind("UPDATE sessions SET data = ?, expiry = ? WHERE token = ?")
	return func(token string, data []byte, expiry time.Time) (bool, error) {
		res, err := s.SQL().Exec(q, data, expiry.UTC(), token)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n > 0, err
	}
}

// SQL exposes the connection pool. A write through it bypasses the store's own bookkeeping:
// the caches treat it as another process's (on PostgreSQL a listing shows it once its
// notification arrives, scopeVersions).
func (s *Store) SQL() *sql.DB {
	d, _ := s.db.DB()
	return d
}

// Close closes the database.
func (s *Store) Close() error {
	if s.stop != nil {
		s.stop()
		<-s.watched
	}
	s.d.close()
	return s.SQL().Close()
}

// in is s working inside tx: its statements join the transaction. Only for the store's
// GORM-built statements (the prepared lookups and caches are the pool's).
func (s *Store) in(tx *gorm.DB) *Store {
	return &Store{db: tx, d: s.d, dsn: s.dsn, Now: s.Now, DefaultAnnouncements: s.DefaultAnnouncements}
}

// transaction runs fn in a transaction, again when the database aborted it for losing a race
// with another (dialect.retryable): fn must not keep effects outside the transaction between
// tries.
func (s *Store) transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	for try := 1; ; try++ {
		err := s.db.WithContext(ctx).Transaction(fn)
		if err == nil || try == 5 || !s.d.retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try*try) * 5 * time.Millisecond):
		}
	}
}

// Unavailable reports whether err means the database cannot be reached right now (down,
// restarting, the connection lost), as opposed to a statement or a value being wrong: pages
// answer 503 and the engine's events wait and retry.
func (s *Store) Unavailable(err error) bool { return err != nil && s.d.unavailable(err) }

// Ping checks the database answers (for /healthz).
func (s *Store) Ping(ctx context.Context) error { return s.SQL().PingContext(ctx) }
