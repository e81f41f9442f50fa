package models

import (
	"fmt"

	"gorm.io/gorm"
)

// The recordings table of migration 3 on SQLite, as builds of main made it with AutoMigrate
// from the model with the storage state (column for column, byte for byte), frozen. Never
// edit: later changes are later migrations.
//
// SQLite cannot change a column in place, and those builds left two shapes behind: a database
// made new by them has the storage columns in the middle and nullable, one made before them got
// the columns appended by AutoMigrate. Migration 3 rebuilds the table into this one definition
// on every SQLite database (new ones too), so that every installation has one schema and an
// upgraded database is exactly a new one.
const v3SQLiteRecordings = "CREATE TABLE `recordings` (`id` integer PRIMARY KEY AUTOINCREMENT,`customer_id` integer NOT NULL,`pool_id` integer,`call_id` integer NOT NULL,`file_id` integer,`path` text NOT NULL,`channels` integer,`size` integer,`duration_ms` integer,`recorded_ms` integer,`segments` text,`status` text,`failure` text,`peaks` blob,`storage` text,`sha256` text,`store_attempts` integer,`store_error` text,`stored_at` datetime,`created_at` datetime,`updated_at` datetime,CONSTRAINT `fk_calls_recording` FOREIGN KEY (`call_id`) REFERENCES `calls`(`id`))"

var v3SQLiteRecordingIndexes = []string{
	"CREATE UNIQUE INDEX `idx_recordings_call_id` ON `recordings`(`call_id`)",
	"CREATE INDEX `idx_recordings_customer_id` ON `recordings`(`customer_id`)",
	"CREATE INDEX `idx_recordings_file_id` ON `recordings`(`file_id`)",
	"CREATE UNIQUE INDEX `idx_recordings_path` ON `recordings`(`path`)",
	"CREATE INDEX `idx_recordings_pool_id` ON `recordings`(`pool_id`)",
	"CREATE INDEX `idx_recordings_status` ON `recordings`(`status`)",
	"CREATE INDEX `idx_recordings_storage` ON `recordings`(`storage`)",
}

const v3RecordingColumns = "id, customer_id, pool_id, call_id, file_id, path, channels, size, duration_ms, recorded_ms, segments, status, failure, peaks, storage, sha256, store_attempts, store_error, stored_at, created_at, updated_at"

// v3RebuildSQLiteRecordings moves the recordings (every column present by now) into the frozen
// definition, the way SQLite's documentation changes a table: a new table, the rows copied,
// the old one dropped. No table's foreign key points at recordings and no trigger or view
// names it, so nothing else has to follow.
func v3RebuildSQLiteRecordings(tx *gorm.DB) error {
	// AUTOINCREMENT's high-water mark: ids of deleted recordings are never given out again.
	var seq int64
	if err := tx.Raw("SELECT COALESCE(max(seq), 0) FROM sqlite_sequence WHERE name = 'recordings'").Scan(&seq).Error; err != nil {
		return err
	}
	var indexes []string
	if err := tx.Raw("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'recordings' AND sql IS NOT NULL").Scan(&indexes).Error; err != nil {
		return err
	}
	stmts := []string{}
	for _, ix := range indexes {
		stmts = append(stmts, fmt.Sprintf("DROP INDEX %q", ix))
	}
	stmts = append(stmts, "ALTER TABLE recordings RENAME TO recordings_before_v3", v3SQLiteRecordings,
		"INSERT INTO recordings ("+v3RecordingColumns+") SELECT "+v3RecordingColumns+" FROM recordings_before_v3",
		"DROP TABLE recordings_before_v3")
	stmts = append(stmts, v3SQLiteRecordingIndexes...)
	stmts = append(stmts, "DELETE FROM sqlite_sequence WHERE name = 'recordings'")
	for _, q := range stmts {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	if seq > 0 {
		return tx.Exec("INSERT INTO sqlite_sequence (name, seq) VALUES ('recordings', ?)", seq).Error
	}
	return nil
}
