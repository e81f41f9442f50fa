package models

import (
	"strings"

	"gorm.io/gorm"
)

// migrations is the schema's history, oldest first. Append new ones at the end with the next
// version; never edit or reorder one that has been released (ARCHITECTURE.md, "Changing the
// schema").
var migrations = []Migration{
	{Version: 1, Name: "baseline: the tables of the single-machine release", baseline: true},
	{Version: 2, Name: "at most one booking in force per module",
		// The booking code checks before it writes, under a lock (dialect.lock); the index makes
		// the rule the database's own, whatever writes the table.
		SQL: []string{"CREATE UNIQUE INDEX idx_booking_in_force ON module_bookings(customer_id, pool_id, module) WHERE cancelled_at IS NULL"}},
	{Version: 3, Name: "recordings' storage state (spooled, stored, failed)",
		// Builds of main between the storage state and versioned migrations added these
		// columns with AutoMigrate: only what is missing is added, and what AutoMigrate left
		// NULL in older rows becomes what a new row gets. SQLite then rebuilds the table into
		// one definition (schema_v3.go).
		Go: func(tx *gorm.DB, d dialect) error {
			add := addMissingColumns("recordings", [][2]string{
				{"storage", "{{text}} DEFAULT ''"}, {"sha256", "{{text}}"}, {"store_attempts", "{{bigint}} NOT NULL DEFAULT 0"},
				{"store_error", "{{text}}"}, {"stored_at", "{{time}}"},
			}, "UPDATE recordings SET storage = '' WHERE storage IS NULL",
				"UPDATE recordings SET sha256 = '' WHERE sha256 IS NULL",
				"UPDATE recordings SET store_attempts = 0 WHERE store_attempts IS NULL",
				"UPDATE recordings SET store_error = '' WHERE store_error IS NULL")
			if err := add(tx, d); err != nil {
				return err
			}
			if d.name() == "sqlite" {
				return v3RebuildSQLiteRecordings(tx)
			}
			return tx.Exec("CREATE INDEX IF NOT EXISTS idx_recordings_storage ON recordings(storage)").Error
		}},
	{Version: 4, Name: "webhooks: endpoints, the delivery outbox, leases, server secrets",
		// Made with AutoMigrate by builds of main before versioned migrations: it creates only
		// what a database lacks (schema_v4.go).
		Go: func(tx *gorm.DB, d dialect) error {
			if err := tx.AutoMigrate(v4Models()...); err != nil {
				return err
			}
			return d.autoMigrated(tx, tableNames(v4Models()))
		}},
	{Version: 5, Name: "PostgreSQL: the File Browser's indexes end in the id",
		// A listing is ordered by its column and then the id, and its keyset cursor compares
		// (column, id). SQLite's indexes end in the row id anyway; PostgreSQL's did not, so
		// it sorted a folder's rows whenever a column had few distinct values (the dialed
		// number and the destination of a pool, the same in most of its recordings): a seq
		// scan and a sort of the whole folder per page. Ending in the id, an index gives the
		// page's order and the cursor's bound by itself.
		SQLite:   []string{},
		Postgres: v5PostgresIndexes()},
	{Version: 6, Name: "calls' redirection headers (Diversion, History-Info)",
		// As the INVITE brought them (RFC 5806, RFC 7044): where a call was forwarded from.
		// Added only where missing: a database from before versioned migrations is brought to
		// the current version by running every migration, and one whose tables came from a
		// newer struct (tests make such old databases from today's schema) has them already.
		Go: addMissingColumns("calls", [][2]string{
			{"diversion", "{{text}} NOT NULL DEFAULT ''"}, {"history_info", "{{text}} NOT NULL DEFAULT ''"},
		})},
	{Version: 7, Name: "cluster: the nodes' leases, and which node handles each call",
		// IF NOT EXISTS and addMissingColumns: tests migrate a database again from an older
		// state without dropping what later migrations made.
		SQL: []string{
			"CREATE TABLE IF NOT EXISTS nodes (id {{text}} PRIMARY KEY, addr {{text}} NOT NULL DEFAULT '', version {{text}} NOT NULL DEFAULT '', " +
				"state {{text}} NOT NULL DEFAULT '', draining {{bool}} NOT NULL DEFAULT FALSE, active_calls {{bigint}} NOT NULL DEFAULT 0, " +
				"started_at {{time}}, heartbeat_at {{time}}, expires_at {{time}}, down_at {{time}}, down_by {{text}} NOT NULL DEFAULT '')",
		},
		Go: addMissingColumns("calls", [][2]string{{"node_id", "{{text}} NOT NULL DEFAULT ''"}},
			"CREATE INDEX IF NOT EXISTS idx_calls_node_id ON calls(node_id)")},
	{Version: 8, Name: "number ranges per customer, the destination rule, a pool's call cap",
		// The numbers pools use go to their customers, so that existing pools keep working and
		// stay editable; the blocked list starts with the default (number_ranges.go,
		// destinations.go). A database whose schema_migrations was lost runs it again over its
		// tables: what exists is kept, the rows are written only into empty tables.
		SQL: []string{
			"CREATE TABLE IF NOT EXISTS number_ranges (id {{id}}, customer_id {{bigint}} NOT NULL, first_number {{text}} NOT NULL, last_number {{text}} NOT NULL DEFAULT '', created_at {{time}})",
			"CREATE INDEX IF NOT EXISTS idx_number_ranges_customer_id ON number_ranges(customer_id)",
			"CREATE TABLE IF NOT EXISTS destination_rules (id {{id}}, customer_id {{bigint}} NOT NULL, prefix {{text}} NOT NULL, note {{text}} NOT NULL DEFAULT '')",
			"CREATE UNIQUE INDEX IF NOT EXISTS idx_destination_rule ON destination_rules(customer_id, prefix)",
		},
		Go: func(tx *gorm.DB, d dialect) error {
			if err := addMissingColumns("pools", [][2]string{{"max_calls", "{{bigint}} NOT NULL DEFAULT 0"}})(tx, d); err != nil {
				return err
			}
			var ranges, rules int64
			if err := tx.Raw("SELECT count(*) FROM number_ranges").Scan(&ranges).Error; err != nil {
				return err
			}
			if err := tx.Raw("SELECT count(*) FROM destination_rules").Scan(&rules).Error; err != nil {
				return err
			}
			if ranges == 0 {
				if err := assignNumbersInUse(tx); err != nil {
					return err
				}
			}
			if rules == 0 {
				return seedBlockedDestinations(tx)
			}
			return nil
		}},
	{Version: 9, Name: "PostgreSQL: writes to files notify the customers whose files they changed",
		// The File Browser keeps a scope's version in memory (scopeversions.go) until a
		// transaction that changed the scope's files commits, in whatever process: the files
		// triggers now also notify filesChannel once per customer they touched (NOTIFY folds
		// a transaction's equal notifications into one, delivered at its commit).
		SQLite:   []string{},
		Postgres: v9PostgresFilesNotify()},
}

// v9PostgresFilesNotify is the files triggers' functions (dialect_postgres.go, baseline: the
// same bookkeeping, written again here because a released migration is never edited) with a
// notification per customer.
func v9PostgresFilesNotify() []string {
	notify := func(rows string) string {
		return "PERFORM pg_notify('" + filesChannel + "', c::text) FROM (SELECT DISTINCT customer_id AS c FROM " + rows + ") AS t;"
	}
	const added = `INSERT INTO folder_stats AS s (customer_id, folder, kind, files, bytes, version)
			SELECT customer_id, folder, kind, count(*), COALESCE(sum(size), 0), count(*) FROM new_rows GROUP BY 1, 2, 3
			ON CONFLICT (customer_id, folder, kind) DO UPDATE SET files = s.files + excluded.files,
				bytes = s.bytes + excluded.bytes, version = s.version + excluded.version;`
	const removed = `UPDATE folder_stats AS s SET files = s.files - d.n, bytes = s.bytes - d.b, version = s.version + d.n
			FROM (SELECT customer_id, folder, kind, count(*) AS n, COALESCE(sum(size), 0) AS b FROM old_rows GROUP BY 1, 2, 3) AS d
			WHERE s.customer_id = d.customer_id AND s.folder = d.folder AND s.kind = d.kind;`
	function := func(name string, body ...string) string {
		return "CREATE OR REPLACE FUNCTION " + name + "() RETURNS trigger LANGUAGE plpgsql AS $$\n\t\tBEGIN\n\t\t\t" +
			strings.Join(body, "\n\t\t\t") + "\n\t\t\tRETURN NULL;\n\t\tEND $$"
	}
	return []string{
		function("files_stats_added", added, notify("new_rows")),
		function("files_stats_removed", removed, notify("old_rows")),
		function("files_stats_changed", removed, added, notify("old_rows"), notify("new_rows")),
	}
}

// v5PostgresIndexes rebuilds the listing indexes (schema_v1.go's v1FileIndexes and the File
// model's idx_files_folder) with the id last.
func v5PostgresIndexes() []string {
	var out []string
	for _, ix := range [][2]string{
		{"idx_files_folder", "customer_id, folder, name"},
		{"idx_files_customer_kind_at", "customer_id, kind, call_at"},
		{"idx_files_customer_pool_kind_at", "customer_id, pool_id, kind, call_at"},
		{"idx_files_browse_date", "customer_id, folder, call_at"},
		{"idx_files_browse_caller", "customer_id, folder, a"},
		{"idx_files_browse_dialed", "customer_id, folder, b"},
		{"idx_files_browse_destination", "customer_id, folder, c"},
		{"idx_files_browse_duration", "customer_id, folder, duration_ms"},
		{"idx_files_browse_size", "customer_id, folder, size"},
	} {
		out = append(out, "DROP INDEX IF EXISTS "+ix[0], "CREATE INDEX "+ix[0]+" ON files("+ix[1]+", id)")
	}
	return out
}

// tableNames are the tables of frozen models.
func tableNames(models []any) []string {
	out := make([]string, len(models))
	for i, m := range models {
		out[i] = m.(interface{ TableName() string }).TableName()
	}
	return out
}

// addMissingColumns is a migration's Go step that adds the columns (name, type) a table lacks,
// then runs more statements: for columns that some databases got before versioned migrations.
// Types are written as in Migration.SQL.
func addMissingColumns(table string, cols [][2]string, more ...string) func(*gorm.DB, dialect) error {
	return func(tx *gorm.DB, d dialect) error {
		for _, c := range cols {
			if tx.Migrator().HasColumn(table, c[0]) {
				continue
			}
			if err := tx.Exec(expandTypes(d, "ALTER TABLE "+table+" ADD COLUMN "+c[0]+" "+c[1])).Error; err != nil {
				return err
			}
		}
		for _, q := range more {
			if err := tx.Exec(expandTypes(d, q)).Error; err != nil {
				return err
			}
		}
		return nil
	}
}

// runBaseline is migration 1: the tables of schema_v1.go (on a database from before versioned
// migrations, AutoMigrate finds them and adds what an older build had not created), the File
// Browser's indexes and the dialect's own part.
func (s *Store) runBaseline(tx *gorm.DB) error {
	if err := tx.AutoMigrate(v1Models()...); err != nil {
		return err
	}
	if err := s.d.baseline(tx); err != nil {
		return err
	}
	for _, q := range v1FileIndexes() {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// liveModels lists every model that has a table. TestSchemaHasEveryField checks that the
// migrations give each of their fields a column: add a model here with its migration.
func liveModels() []any {
	return []any{
		&Customer{}, &User{}, &Pool{}, &PoolNumber{}, &PriceItem{}, &APIToken{}, &AuditEvent{},
		&File{}, &Call{}, &CallEvent{}, &Recording{}, &Announcement{},
		&ModuleBooking{}, &CallRecordingSettings{}, &FTPCredential{},
		&WebhookEndpoint{}, &WebhookDelivery{}, &Lease{}, &ServerSecret{}, &Node{},
		&NumberRange{}, &DestinationRule{},
	}
}
