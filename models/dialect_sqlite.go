package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// sqliteDialect is the embedded database: one file, one writer at a time. Every transaction
// begins IMMEDIATE (it takes the write lock at BEGIN), so transactions that write never
// interleave and a check-then-write needs no lock of its own.
type sqliteDialect struct {
	path string // the database file; ":memory:" for none
}

// openSQLite opens the database file path (its folder is created).
func openSQLite(path string) (dialect, *gorm.DB, error) {
	path = strings.TrimPrefix(path, "sqlite:")
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, nil, fmt.Errorf("models: %w", err)
		}
	}
	// WAL lets the File Browser read while the engine writes call rows; busy_timeout rides out
	// short write contention instead of failing; _txlock=immediate avoids upgrade deadlocks.
	full := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate&_synchronous=NORMAL"
	open := func() (*gorm.DB, error) {
		return gorm.Open(sqlite.New(sqlite.Config{DriverName: driverName, DSN: full}), &gorm.Config{
			Logger:         logger.Discard,
			TranslateError: true,
			// Prepared once per connection: parsing and planning the same SQL on every request
			// was a measurable part of a File Browser page. The cache is bounded (queries with
			// variable IN lists vary).
			PrepareStmt:        true,
			PrepareStmtMaxSize: 512,
			PrepareStmtTTL:     time.Hour,
		})
	}
	// The first connection switches a new database to WAL, which needs the file to itself:
	// SQLite answers "database is locked" at once, without its busy timeout, to a process
	// that opens the file meanwhile (several processes starting together: 1 in ~10 runs of
	// TestConcurrentMigrations). Such an open is tried again for a few seconds.
	db, err := open()
	for try := 1; err != nil && try <= 40 && isSQLiteBusy(err); try++ {
		time.Sleep(time.Duration(min(try, 10)) * 10 * time.Millisecond)
		db, err = open()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("models: open %s: %w", path, err)
	}
	// Keep connections open: database/sql keeps only two idle ones by default, so under
	// concurrent page views it opened and closed SQLite connections (each open runs the DSN's
	// pragmas) and lost their prepared statements with them.
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.SetMaxIdleConns(64)
	}
	return &sqliteDialect{path: path}, db, nil
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

func (*sqliteDialect) name() string                { return "sqlite" }
func (*sqliteDialect) rebind(q string) string      { return q }
func (*sqliteDialect) noIndex() string             { return "+" }
func (*sqliteDialect) prepares() bool              { return true }
func (*sqliteDialect) retryable(error) bool        { return false }
func (*sqliteDialect) lock(*gorm.DB, string) error { return nil }
func (*sqliteDialect) watch(context.Context, func(watchNotice)) <-chan struct{} {
	done := make(chan struct{})
	close(done)
	return done
}
func (*sqliteDialect) close()       {}
func (*sqliteDialect) shared() bool { return false }

func (*sqliteDialect) sessions(db *sql.DB, cleanup time.Duration) scs.Store {
	return sqlite3store.NewWithCleanupInterval(db, cleanup)
}

func (*sqliteDialect) tables(db *gorm.DB) ([]string, error) {
	var names []string
	if err := db.Raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").Scan(&names).Error; err != nil {
		return nil, err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return derivedTables[n] })
	parents := map[string][]string{}
	for _, n := range names {
		var ps []string
		if err := db.Raw(`SELECT "table" FROM pragma_foreign_key_list(?)`, n).Scan(&ps).Error; err != nil {
			return nil, err
		}
		parents[n] = ps
	}
	return orderTables(names, parents)
}

func (*sqliteDialect) columns(ctx context.Context, q querier, table string) ([]column, error) {
	rows, err := q.QueryContext(ctx, "SELECT name, type FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		// SQLite's type affinity rules; GORM declares booleans "numeric".
		kind := "bytes"
		switch t := strings.ToLower(typ); {
		case strings.Contains(t, "int"):
			kind = "int"
		case strings.Contains(t, "char"), strings.Contains(t, "clob"), strings.Contains(t, "text"):
			kind = "text"
		case strings.Contains(t, "real"), strings.Contains(t, "floa"), strings.Contains(t, "doub"):
			kind = "real"
		case strings.Contains(t, "date"), strings.Contains(t, "time"):
			kind = "time"
		case strings.Contains(t, "numeric"), strings.Contains(t, "bool"):
			kind = "bool"
		}
		out = append(out, column{Name: name, Kind: kind})
	}
	return out, rows.Err()
}

// afterCopy: AUTOINCREMENT follows the largest id ever inserted, given or not.
func (*sqliteDialect) afterCopy(*gorm.DB, string) error { return nil }

func (*sqliteDialect) autoMigrated(*gorm.DB, []string) error { return nil } // BINARY already

func (*sqliteDialect) types() map[string]string {
	// GORM's SQLite names, so columns made by migrations read back like those of the models
	// (the driver turns datetime columns into time.Time).
	return map[string]string{"id": "integer PRIMARY KEY AUTOINCREMENT", "bigint": "integer", "text": "text",
		"bool": "numeric", "time": "datetime", "bytes": "blob"}
}

func (*sqliteDialect) hasTable(tx *gorm.DB, table string) (bool, error) {
	var n int64
	err := tx.Raw("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n).Error
	return n > 0, err
}

// unavailable: the file cannot be read or written, or another writer held it past the busy
// timeout.
func (*sqliteDialect) unavailable(err error) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrIoErr, sqlite3.ErrCantOpen, sqlite3.ErrFull:
		return true
	}
	return false
}

// lockMigrations takes an exclusive lock on a file beside the database. The migrations' own
// transactions would serialize them too, but a second process would give up after the busy
// timeout while a long migration runs; the file lock waits, and is released by the kernel if
// the process dies.
func (d *sqliteDialect) lockMigrations(ctx context.Context, _ *sql.DB) (func(), error) {
	if d.path == ":memory:" || strings.HasPrefix(d.path, "file::memory:") {
		return func() {}, nil
	}
	f, err := os.OpenFile(d.path+".migrate-lock", os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// baseline creates folder_stats and its triggers, and the session table of scs' sqlite3store.
// A database from before folder_stats gets the table filled from the files, one from before its
// version column gets the column.
func (d *sqliteDialect) baseline(tx *gorm.DB) error {
	exists, err := d.hasTable(tx, "folder_stats")
	if err != nil {
		return err
	}
	var stmts []string
	if !exists {
		stmts = append(stmts,
			`CREATE TABLE folder_stats (customer_id INTEGER NOT NULL, folder TEXT NOT NULL, kind TEXT NOT NULL,
				files INTEGER NOT NULL, bytes INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 0,
				PRIMARY KEY (customer_id, folder, kind)) WITHOUT ROWID`,
			`INSERT INTO folder_stats (customer_id, folder, kind, files, bytes, version)
			SELECT customer_id, folder, kind, count(*), COALESCE(sum(size), 0), 1 FROM files GROUP BY customer_id, folder, kind`)
	} else {
		var versioned int64
		if err := tx.Raw("SELECT count(*) FROM pragma_table_info('folder_stats') WHERE name = 'version'").Scan(&versioned).Error; err != nil {
			return err
		}
		if versioned == 0 {
			stmts = append(stmts, "ALTER TABLE folder_stats ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
		}
	}
	stmts = append(stmts, "DROP TRIGGER IF EXISTS files_stats_insert", "DROP TRIGGER IF EXISTS files_stats_delete",
		"DROP TRIGGER IF EXISTS files_stats_update")
	stmts = append(stmts, sqliteFolderStatsTriggers...)
	// One statement per Exec: a prepared statement runs only the first of several.
	stmts = append(stmts, `CREATE TABLE IF NOT EXISTS sessions (
		token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions(expiry)`)
	for _, q := range stmts {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// sqliteFolderStatsTriggers keep folder_stats equal to the files table's counts per customer,
// folder and kind, whatever writes the files (the engine's rows, uploads, deletes, retention,
// imports, another process), and count every change of a file in version (see listCache).
// Every update counts, not only of the columns a listing shows: cheaper than being wrong.
var sqliteFolderStatsTriggers = []string{
	`CREATE TRIGGER files_stats_insert AFTER INSERT ON files BEGIN
		INSERT INTO folder_stats (customer_id, folder, kind, files, bytes, version)
		VALUES (new.customer_id, new.folder, new.kind, 1, COALESCE(new.size, 0), 1)
		ON CONFLICT (customer_id, folder, kind) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes,
			version = version + 1;
	END`,
	`CREATE TRIGGER files_stats_delete AFTER DELETE ON files BEGIN
		UPDATE folder_stats SET files = files - 1, bytes = bytes - COALESCE(old.size, 0), version = version + 1
		WHERE customer_id = old.customer_id AND folder = old.folder AND kind = old.kind;
	END`,
	`CREATE TRIGGER files_stats_update AFTER UPDATE ON files BEGIN
		UPDATE folder_stats SET files = files - 1, bytes = bytes - COALESCE(old.size, 0), version = version + 1
		WHERE customer_id = old.customer_id AND folder = old.folder AND kind = old.kind;
		INSERT INTO folder_stats (customer_id, folder, kind, files, bytes, version)
		VALUES (new.customer_id, new.folder, new.kind, 1, COALESCE(new.size, 0), 1)
		ON CONFLICT (customer_id, folder, kind) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes,
			version = version + 1;
	END`,
}

// SQLite listings are read as one text value per row, the columns joined by NUL (no column
// holds one: names and paths are file names, numbers are digits), NULL as "". The driver makes
// two or three cgo calls per column of every row; for a page of 50 rows of 19 columns that was
// most of the page's cost. concat builds the value in one pass (a chain of || copies it once
// per column; concat_ws would drop empty fields with their separators).
var (
	sqliteListRow      = "concat(" + strings.Join(browseColumnsRead[:], ", char(0), ") + ")"
	sqliteListRowBrief = "concat(" + strings.Join(browseColumnsBrief[:], ", char(0), ") + ")"
)

func (*sqliteDialect) listSelect(brief bool) string {
	if brief {
		return sqliteListRowBrief
	}
	return sqliteListRow
}

func (*sqliteDialect) scanList(rs *sql.Rows, brief bool) (File, error) {
	var v string
	if err := rs.Scan(&v); err != nil {
		return File{}, err
	}
	return parseBrowseRow(v, brief)
}

// parseBrowseRow reads a listing row (brief: of the brief columns) back into a File. The
// strings share v's memory.
func parseBrowseRow(v string, brief bool) (File, error) {
	var f File
	var fields [len(browseColumnsRead)]string
	want := len(browseColumnsRead)
	if brief {
		want = len(browseColumnsBrief)
	}
	n := 0
	for rest, more := v, true; more; n++ {
		if n == want {
			return f, fmt.Errorf("models: listing row with more than %d fields", n)
		}
		fields[n], rest, more = strings.Cut(rest, "\x00")
	}
	if n != want {
		return f, fmt.Errorf("models: listing row with %d fields", n)
	}
	num := func(i int) int64 {
		n, _ := strconv.ParseInt(fields[i], 10, 64) // "" (NULL) is 0
		return n
	}
	callAt := func(i int) {
		if at, ok := parseDBTime(fields[i]); ok {
			f.CallAt = &at
		}
	}
	if brief {
		f.ID, f.Name, f.Size, f.DurationMS = uint(num(0)), fields[1], num(2), num(3)
		callAt(4)
		f.A, f.B, f.C = fields[5], fields[6], fields[7]
		return f, nil
	}
	f.ID, f.CustomerID = uint(num(0)), uint(num(1))
	f.Folder, f.Name, f.Path, f.Kind = fields[2], fields[3], fields[4], fields[5]
	f.Size, f.Codec = num(6), fields[7]
	f.Bits, f.Rate, f.Channels = int(num(8)), int(num(9)), int(num(10))
	f.DurationMS, f.Ready = num(11), num(12) != 0
	callAt(13)
	f.A, f.B, f.C, f.PoolID = fields[14], fields[15], fields[16], uint(num(17))
	f.CreatedAt, _ = parseDBTime(fields[18])
	return f, nil
}

// parseDBTime reads a time as the SQLite driver stores it, in UTC; "" is no time. The driver
// writes "2006-01-02 15:04:05.999999999-07:00" and the store always passes UTC, so that form
// with "+00:00" is read by hand (time.Parse was a large part of a listing row's cost); anything
// else goes through the layouts the driver itself accepts.
func parseDBTime(s string) (time.Time, bool) {
	if t, ok := parseUTCStamp(s); ok {
		return t, true
	}
	if s == "" {
		return time.Time{}, false
	}
	s = strings.TrimSuffix(s, "Z")
	for _, layout := range sqlite3.SQLiteTimestampFormats {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseUTCStamp reads "2006-01-02 15:04:05[.fraction]+00:00".
func parseUTCStamp(s string) (time.Time, bool) {
	rest, ok := strings.CutSuffix(s, "+00:00")
	if !ok || len(rest) < 19 || rest[4] != '-' || rest[7] != '-' || rest[10] != ' ' || rest[13] != ':' || rest[16] != ':' {
		return time.Time{}, false
	}
	digits := func(i, j int) (int, bool) {
		n := 0
		for _, c := range []byte(rest[i:j]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	var v [6]int
	for k, span := range [6][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}} {
		if v[k], ok = digits(span[0], span[1]); !ok {
			return time.Time{}, false
		}
	}
	nsec := 0
	if frac := rest[19:]; frac != "" {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		if nsec, ok = digits(20, len(rest)); !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	if v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 59 {
		return time.Time{}, false
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], nsec, time.UTC)
	return t, t.Day() == v[2] // not 2026-02-31
}

// isSQLiteBusy says err is SQLite's "database is locked" (busy or locked).
func isSQLiteBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}
