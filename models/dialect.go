package models

import (
	"context"
	"database/sql"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"gorm.io/gorm"
)

// dialect is everything that differs between the databases the store runs on: SQLite (the
// embedded default, one file) and PostgreSQL (shared by several processes). The rest of the
// package speaks one SQL to both; where the SQL, the planner's habits or the concurrency rules
// differ, the store asks its dialect instead of testing which database it has.
type dialect interface {
	// name is "sqlite" or "postgres" (migrate --status and error messages show it).
	name() string
	// rebind turns a statement written with ? placeholders into the driver's form; the store's
	// hand-written queries are all written with ?.
	rebind(query string) string
	// noIndex is put before a column in a WHERE or ORDER BY term to tell the planner not to walk
	// that column's index (SQLite's unary +); "" where the planner needs no such hint.
	noIndex() string
	// listSelect is the select list of a File Browser listing (brief: only what the list shows)
	// and scanList reads one of its rows.
	listSelect(brief bool) string
	scanList(rs *sql.Rows, brief bool) (File, error)
	// lock makes tx wait until no other transaction holds key, and holds it until tx ends: the
	// check-then-write sequences (is the module booked? is the number free?) run one at a time
	// per key, as SQLite's single writer runs them anyway.
	lock(tx *gorm.DB, key string) error
	// lockMigrations holds off every other process's migrations until unlock is called.
	lockMigrations(ctx context.Context, db *sql.DB) (unlock func(), err error)
	// hasTable reports whether a table exists.
	hasTable(tx *gorm.DB, table string) (bool, error)
	// types maps the type names migrations write as {{name}} to the database's.
	types() map[string]string
	// autoMigrated makes tables that GORM's AutoMigrate made (from a migration's frozen
	// structs) behave as the database's others: on PostgreSQL their text compares bytewise.
	autoMigrated(tx *gorm.DB, tables []string) error
	// baseline runs migration 1's statements beyond the GORM tables: the File Browser's
	// folder_stats with the triggers that keep it, the session table, and whatever else the
	// database needs to behave like the other.
	baseline(tx *gorm.DB) error
	// prepares says whether the store keeps its own prepared statements of the hottest queries
	// (SQLite), or the driver already caches them per connection (pgx).
	prepares() bool
	// unavailable says err means the database cannot be reached (down, restarting, the
	// connection cut), as opposed to a statement that failed.
	unavailable(err error) bool
	// retryable says err means the transaction lost a race with another (a deadlock broken, a
	// serialization failure) and running it again is correct.
	retryable(err error) bool
	// watch tells heard, until ctx ends, whenever another process may have changed a table the
	// read cache holds rows of (cacheChannel) or files (filesChannel, with the customer), and
	// whenever it starts or stops listening; done is closed when it has let go of its
	// connection. SQLite has no such signal (the read cache's TTL bounds it; scope versions
	// are not kept).
	watch(ctx context.Context, heard func(watchNotice)) (done <-chan struct{})
	// tables lists the tables that hold data (not derivedTables), each after those its foreign
	// keys point to; columns lists a table's columns, read through q; afterCopy sets what must
	// follow rows inserted with their ids (PostgreSQL's sequences). For copy-db.
	tables(db *gorm.DB) ([]string, error)
	columns(ctx context.Context, q querier, table string) ([]column, error)
	afterCopy(tx *gorm.DB, table string) error
	// sessions is scs' store for the session table baseline made, on db.
	sessions(db *sql.DB, cleanup time.Duration) scs.Store
	// shared says other processes write this database while this one runs (several nodes on
	// one PostgreSQL), so what this process keeps in memory can go stale without it knowing.
	shared() bool
	// close releases what the dialect holds beyond the connection pool.
	close()
}

// lockKey is key as the 64-bit number PostgreSQL's advisory locks take.
func lockKey(key string) int64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int64(h.Sum64())
}

// rebindDollar turns ? placeholders into $1, $2, ... (outside quoted strings and identifiers).
func rebindDollar(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// expandTypes replaces {{name}} in a migration's statement by the dialect's type.
func expandTypes(d dialect, stmt string) string {
	for k, v := range d.types() {
		stmt = strings.ReplaceAll(stmt, "{{"+k+"}}", v)
	}
	return stmt
}

// isPostgres says whether a --db value names a PostgreSQL database.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// watchNotice is what a dialect's watch tells: a notification (channel and payload), or a reset
// (it listens from now on, or, live false, no longer does).
type watchNotice struct {
	channel, payload string
	reset, live      bool
}
