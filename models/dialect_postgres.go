package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// postgresDialect is a PostgreSQL 15 server that several callrec processes may share. Its
// transactions run concurrently (READ COMMITTED), so the store's check-then-write sequences take
// advisory locks, text columns compare bytewise (COLLATE "C") as SQLite's do, and other
// processes' writes reach the read cache by LISTEN/NOTIFY.
type postgresDialect struct {
	cfg *pgx.ConnConfig // for the listening connection
}

// postgresConnectTimeout bounds a connection attempt when the URL sets none: an unreachable host
// is a clear error at start, not minutes of waiting on TCP.
const postgresConnectTimeout = 10 * time.Second

// openPostgres connects to the database dsn names (a postgres:// URL) and checks it answers.
func openPostgres(dsn string) (dialect, *gorm.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("models: database URL %s: %w", redactURL(dsn), err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = postgresConnectTimeout
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "callrec"
	}
	// Times come back in UTC, as SQLite's driver returns them (pgx would use time.Local).
	utc := func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	sqlDB := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(utc))
	// A bounded pool: several processes share the server's max_connections (100 by default).
	sqlDB.SetMaxOpenConns(32)
	sqlDB.SetMaxIdleConns(32)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		Logger:         logger.Discard,
		TranslateError: true,
		// No PrepareStmt: pgx prepares and caches every statement per connection itself.
	})
	if err != nil {
		sqlDB.Close()
		return nil, nil, fmt.Errorf("models: cannot reach the database %s: %w", redactURL(dsn), err)
	}
	return &postgresDialect{cfg: cfg}, db, nil
}

// RedactURL is a database URL without its password, for messages.
func RedactURL(dsn string) string { return redactURL(dsn) }

func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func (*postgresDialect) name() string           { return "postgres" }
func (*postgresDialect) rebind(q string) string { return rebindDollar(q) }
func (*postgresDialect) noIndex() string        { return "" }
func (*postgresDialect) prepares() bool         { return false }
func (*postgresDialect) close()                 {}
func (*postgresDialect) shared() bool           { return true }

func (*postgresDialect) sessions(db *sql.DB, cleanup time.Duration) scs.Store {
	return postgresstore.NewWithCleanupInterval(db, cleanup)
}

func (*postgresDialect) tables(db *gorm.DB) ([]string, error) {
	var names []string
	if err := db.Raw(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
		AND table_type = 'BASE TABLE'`).Scan(&names).Error; err != nil {
		return nil, err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return derivedTables[n] })
	var fks []struct{ Child, Parent string }
	if err := db.Raw(`SELECT c.relname AS child, p.relname AS parent FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
		WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace`).Scan(&fks).Error; err != nil {
		return nil, err
	}
	parents := map[string][]string{}
	for _, fk := range fks {
		parents[fk.Child] = append(parents[fk.Child], fk.Parent)
	}
	return orderTables(names, parents)
}

func (*postgresDialect) columns(ctx context.Context, q querier, table string) ([]column, error) {
	rows, err := q.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
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
		kind := "text"
		switch {
		case typ == "bigint" || typ == "integer" || typ == "smallint":
			kind = "int"
		case typ == "boolean":
			kind = "bool"
		case strings.HasPrefix(typ, "timestamp") || typ == "date":
			kind = "time"
		case typ == "bytea":
			kind = "bytes"
		case typ == "double precision" || typ == "real" || typ == "numeric":
			kind = "real"
		}
		out = append(out, column{Name: name, Kind: kind})
	}
	return out, rows.Err()
}

// afterCopy moves the table's sequences past the ids copied in: rows inserted with their ids
// leave a sequence where it was, and the next insert would collide with a copied row.
func (*postgresDialect) afterCopy(tx *gorm.DB, table string) error {
	var cols []string
	if err := tx.Raw(`SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()
		AND table_name = ? AND column_default LIKE 'nextval(%'`, table).Scan(&cols).Error; err != nil {
		return err
	}
	for _, c := range cols {
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence(?, ?), COALESCE((SELECT max(%s) FROM %s), 0) + 1, false)`,
			quoteIdent(c), quoteIdent(table))
		if err := tx.Exec(q, quoteIdent(table), c).Error; err != nil {
			return err
		}
	}
	return nil
}

// autoMigrated gives the tables' text columns the bytewise collation (GORM creates them with the
// database's default, which may be a language's: sort orders and prefix ranges would differ
// from SQLite's).
func (*postgresDialect) autoMigrated(tx *gorm.DB, tables []string) error {
	var cols []struct{ Table, Column string }
	if err := tx.Raw(`SELECT table_name AS "table", column_name AS "column" FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type = 'text' AND table_name IN ?
		AND (collation_name IS NULL OR collation_name <> 'C') ORDER BY table_name, ordinal_position`, tables).
		Scan(&cols).Error; err != nil {
		return err
	}
	for _, c := range cols {
		if err := tx.Exec(fmt.Sprintf(`ALTER TABLE %q ALTER COLUMN %q TYPE text COLLATE "C"`, c.Table, c.Column)).Error; err != nil {
			return err
		}
	}
	return nil
}

func (*postgresDialect) types() map[string]string {
	return map[string]string{"id": "bigserial PRIMARY KEY", "bigint": "bigint", "text": `text COLLATE "C"`,
		"bool": "boolean", "time": "timestamptz", "bytes": "bytea"}
}

func (*postgresDialect) lock(tx *gorm.DB, key string) error {
	return tx.Exec("SELECT pg_advisory_xact_lock(?)", lockKey(key)).Error
}

// migrationLockKey is the advisory lock every process's migrations take.
var migrationLockKey = lockKey("callrec migrations")

// lockMigrations holds a session advisory lock on a connection of its own: other processes wait
// in pg_advisory_lock until unlock, or until this process dies and its session ends.
func (*postgresDialect) lockMigrations(ctx context.Context, db *sql.DB) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		conn.Close()
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", migrationLockKey)
		conn.Close()
	}, nil
}

func (*postgresDialect) hasTable(tx *gorm.DB, table string) (bool, error) {
	var n int64
	err := tx.Raw("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?", table).Scan(&n).Error
	return n > 0, err
}

// unavailable: no connection (refused, timed out, cut), or the server says it is shutting down,
// starting up or out of connections.
func (*postgresDialect) unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "53300"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	// pgx reports a connection it has closed after a failure as a plain error.
	return strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "conn busy")
}

// retryable: a deadlock PostgreSQL broke by aborting this transaction, or a serialization failure.
func (*postgresDialect) retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// cacheChannel is the NOTIFY channel of writes to the tables the read cache holds rows of.
const cacheChannel = "callrec_cache"

// watch listens on its own connection (reconnecting with backoff) and tells heard every
// notification, and that it listens after every (re)connect and no longer does when the
// connection is lost: notifications sent while it was not listening are lost, so what the
// caches hold is dropped then. A connection that has been quiet for watchIdle is pinged: one
// that died without a word (a cut network) is found within watchIdle plus watchPing.
func (d *postgresDialect) watch(ctx context.Context, heard func(watchNotice)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			conn, err := pgx.ConnectConfig(ctx, d.cfg)
			if err == nil {
				if _, err = conn.Exec(ctx, "LISTEN "+cacheChannel+"; LISTEN "+filesChannel); err == nil {
					backoff = 100 * time.Millisecond
					heard(watchNotice{reset: true, live: true})
					err = listen(ctx, conn, heard)
				}
				conn.Close(context.Background())
			}
			heard(watchNotice{reset: true})
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}()
	return done
}

const (
	watchIdle = 10 * time.Second
	watchPing = 5 * time.Second
)

// listen hands conn's notifications to heard until the connection fails or ctx ends.
func listen(ctx context.Context, conn *pgx.Conn, heard func(watchNotice)) error {
	for {
		wait, cancel := context.WithTimeout(ctx, watchIdle)
		n, err := conn.WaitForNotification(wait)
		cancel()
		if err == nil {
			heard(watchNotice{channel: n.Channel, payload: n.Payload})
			continue
		}
		if ctx.Err() != nil || !pgconn.Timeout(err) {
			return err
		}
		ping, cancel := context.WithTimeout(ctx, watchPing)
		err = conn.Ping(ping)
		cancel()
		if err != nil {
			return err
		}
	}
}

// postgresListColumns are browseColumnsRead as PostgreSQL reads them: each column on its own
// (pgx decodes rows without the per-column cost that made SQLite's listing one text value),
// NULLs of the columns that may hold them as zero values.
var postgresListColumns = map[string]string{
	"size": "COALESCE(size, 0)", "codec": "COALESCE(codec, '')", "bits": "COALESCE(bits, 0)", "rate": "COALESCE(rate, 0)",
	"channels": "COALESCE(channels, 0)", "duration_ms": "COALESCE(duration_ms, 0)", "ready": "COALESCE(ready, false)",
	"a": "COALESCE(a, '')", "b": "COALESCE(b, '')", "c": "COALESCE(c, '')", "pool_id": "COALESCE(pool_id, 0)",
}

func postgresList(cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		if e, ok := postgresListColumns[c]; ok {
			c = e
		}
		out[i] = c
	}
	return strings.Join(out, ", ")
}

var (
	postgresListRow      = postgresList(browseColumnsRead[:])
	postgresListRowBrief = postgresList(browseColumnsBrief[:])
)

func (*postgresDialect) listSelect(brief bool) string {
	if brief {
		return postgresListRowBrief
	}
	return postgresListRow
}

func (*postgresDialect) scanList(rs *sql.Rows, brief bool) (File, error) {
	var f File
	var callAt, created sql.NullTime
	var err error
	if brief {
		err = rs.Scan(&f.ID, &f.Name, &f.Size, &f.DurationMS, &callAt, &f.A, &f.B, &f.C)
	} else {
		err = rs.Scan(&f.ID, &f.CustomerID, &f.Folder, &f.Name, &f.Path, &f.Kind, &f.Size, &f.Codec, &f.Bits, &f.Rate,
			&f.Channels, &f.DurationMS, &f.Ready, &callAt, &f.A, &f.B, &f.C, &f.PoolID, &created)
	}
	if callAt.Valid {
		at := callAt.Time.UTC()
		f.CallAt = &at
	}
	f.CreatedAt = created.Time.UTC()
	if !created.Valid {
		f.CreatedAt = time.Time{}
	}
	return f, err
}

// baseline makes migration 1's tables behave as SQLite's: text compares bytewise (sort orders,
// and the prefix ranges of folder and number searches, depend on it; a database's default
// collation may be a language's), folder_stats with its trigger, the read cache's
// notifications, and scs' postgresstore session table.
func (d *postgresDialect) baseline(tx *gorm.DB) error {
	if err := d.autoMigrated(tx, tableNames(v1Models())); err != nil {
		return err
	}
	stmts := []string{
		`CREATE TABLE folder_stats (customer_id bigint NOT NULL, folder text COLLATE "C" NOT NULL, kind text COLLATE "C" NOT NULL,
			files bigint NOT NULL, bytes bigint NOT NULL, version bigint NOT NULL DEFAULT 0,
			PRIMARY KEY (customer_id, folder, kind))`,
		`INSERT INTO folder_stats (customer_id, folder, kind, files, bytes, version)
			SELECT customer_id, folder, kind, count(*), COALESCE(sum(size), 0), 1 FROM files GROUP BY customer_id, folder, kind`,
		// The same bookkeeping as SQLite's three triggers (see sqliteFolderStatsTriggers), once
		// per statement over its transition tables: a statement that writes many files (a bulk
		// insert, copy-db) updates each folder's row once. Updating one row many times in one
		// transaction is quadratic in PostgreSQL (every update adds a version the transaction
		// must walk past). The upsert locks the folder's row until the writer commits, so
		// concurrent writers of one folder count one after the other, and a reader sees a file
		// and its count together.
		`CREATE FUNCTION files_stats_added() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO folder_stats AS s (customer_id, folder, kind, files, bytes, version)
			SELECT customer_id, folder, kind, count(*), COALESCE(sum(size), 0), count(*) FROM new_rows GROUP BY 1, 2, 3
			ON CONFLICT (customer_id, folder, kind) DO UPDATE SET files = s.files + excluded.files,
				bytes = s.bytes + excluded.bytes, version = s.version + excluded.version;
			RETURN NULL;
		END $$`,
		`CREATE FUNCTION files_stats_removed() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			UPDATE folder_stats AS s SET files = s.files - d.n, bytes = s.bytes - d.b, version = s.version + d.n
			FROM (SELECT customer_id, folder, kind, count(*) AS n, COALESCE(sum(size), 0) AS b FROM old_rows GROUP BY 1, 2, 3) AS d
			WHERE s.customer_id = d.customer_id AND s.folder = d.folder AND s.kind = d.kind;
			RETURN NULL;
		END $$`,
		`CREATE FUNCTION files_stats_changed() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			UPDATE folder_stats AS s SET files = s.files - d.n, bytes = s.bytes - d.b, version = s.version + d.n
			FROM (SELECT customer_id, folder, kind, count(*) AS n, COALESCE(sum(size), 0) AS b FROM old_rows GROUP BY 1, 2, 3) AS d
			WHERE s.customer_id = d.customer_id AND s.folder = d.folder AND s.kind = d.kind;
			INSERT INTO folder_stats AS s (customer_id, folder, kind, files, bytes, version)
			SELECT customer_id, folder, kind, count(*), COALESCE(sum(size), 0), count(*) FROM new_rows GROUP BY 1, 2, 3
			ON CONFLICT (customer_id, folder, kind) DO UPDATE SET files = s.files + excluded.files,
				bytes = s.bytes + excluded.bytes, version = s.version + excluded.version;
			RETURN NULL;
		END $$`,
		`CREATE TRIGGER files_stats_insert AFTER INSERT ON files REFERENCING NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION files_stats_added()`,
		`CREATE TRIGGER files_stats_delete AFTER DELETE ON files REFERENCING OLD TABLE AS old_rows
			FOR EACH STATEMENT EXECUTE FUNCTION files_stats_removed()`,
		`CREATE TRIGGER files_stats_update AFTER UPDATE ON files REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION files_stats_changed()`,
		// What the read cache holds (users with their customers, tokens, folder owners, pool
		// owners and country codes) changes only with these tables; a token's last use is
		// written once a minute per token and changes nothing the cache answers.
		`CREATE FUNCTION callrec_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			PERFORM pg_notify('` + cacheChannel + `', TG_TABLE_NAME);
			RETURN NULL;
		END $$`,
		`CREATE TRIGGER users_cache AFTER INSERT OR UPDATE OR DELETE ON users FOR EACH STATEMENT EXECUTE FUNCTION callrec_cache_notify()`,
		`CREATE TRIGGER customers_cache AFTER INSERT OR UPDATE OR DELETE ON customers FOR EACH STATEMENT EXECUTE FUNCTION callrec_cache_notify()`,
		`CREATE TRIGGER pools_cache AFTER INSERT OR UPDATE OR DELETE ON pools FOR EACH STATEMENT EXECUTE FUNCTION callrec_cache_notify()`,
		`CREATE TRIGGER api_tokens_cache AFTER UPDATE OF user_id, hash OR DELETE ON api_tokens FOR EACH STATEMENT EXECUTE FUNCTION callrec_cache_notify()`,
		`CREATE TABLE sessions (token text PRIMARY KEY, data bytea NOT NULL, expiry timestamptz NOT NULL)`,
		`CREATE INDEX sessions_expiry_idx ON sessions (expiry)`,
	}
	for _, q := range stmts {
		if err := tx.Exec(q).Error; err != nil {
			return fmt.Errorf("%w\n%s", err, q)
		}
	}
	return nil
}
