package models

import (
	"context"

	"gorm.io/gorm"
)

// Sort keys of the File Browser and their columns. Each has an index (customer_id, folder,
// column) so that a page of a folder with 100,000 recordings is an index range scan, never a sort.
var browseColumns = map[string]string{
	"name": "name", "date": "call_at", "caller": "a", "dialed": "b", "destination": "c",
	"duration": "duration_ms", "size": "size",
}

// BrowseSorts lists the sort keys in the order the list shows its columns.
var BrowseSorts = []string{"name", "date", "caller", "dialed", "destination", "duration", "size"}

// migrateBrowse adds the File Browser's indexes. They are created here, next to the queries
// they serve, instead of in File's tags.
func (s *Store) migrateBrowse() error {
	stmts := []string{
		// Recordings across a customer's folders (the API list) by time, and within one pool.
		"CREATE INDEX IF NOT EXISTS idx_files_customer_kind_at ON files(customer_id, kind, call_at)",
		// With kind in it a pool's list and its (capped) count never read the table: counting
		// through (customer_id, pool_id, call_at) looked up 1,001 rows to test their kind.
		"DROP INDEX IF EXISTS idx_files_customer_pool_at",
		"CREATE INDEX IF NOT EXISTS idx_files_customer_pool_kind_at ON files(customer_id, pool_id, kind, call_at)",
		// Number search over all of a customer's folders (the API, the subscriber folder).
		"CREATE INDEX IF NOT EXISTS idx_files_customer_a ON files(customer_id, a)",
		"CREATE INDEX IF NOT EXISTS idx_files_customer_b ON files(customer_id, b)",
		"CREATE INDEX IF NOT EXISTS idx_files_customer_c ON files(customer_id, c)",
	}
	for key, col := range browseColumns {
		if key == "name" { // idx_files_folder (customer_id, folder, name) exists
			continue
		}
		stmts = append(stmts, "CREATE INDEX IF NOT EXISTS idx_files_browse_"+key+" ON files(customer_id, folder, "+col+")")
	}
	for _, q := range stmts {
		if err := s.db.Exec(q).Error; err != nil {
			return err
		}
	}
	return s.migrateFolderStats()
}

// folderStatsTriggers keep folder_stats equal to the files table's counts per customer, folder
// and kind, whatever writes the files (the engine's rows, uploads, deletes, retention, imports,
// another process), and count every change of a file in version: a listing of a folder (or of a
// customer's recordings) read at one version is the listing until the version moves (listCache).
// Every update counts, not only of the columns a listing shows: cheaper than being wrong.
var folderStatsTriggers = []string{
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

// migrateFolderStats creates folder_stats, the number of files per folder and the folder's
// version, so that a folder's total is one row instead of counting up to 100,000 index entries
// on every page. A database from before the table gets it filled from the files, one from
// before the version column gets the column; the triggers are created anew on every start (in
// the same transaction), so their current definition is always the one in place.
func (s *Store) migrateFolderStats() error {
	return s.db.Transaction(func(tx *gorm.DB) error {
		var exists, versioned int64
		if err := tx.Raw("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'folder_stats'").Scan(&exists).Error; err != nil {
			return err
		}
		var stmts []string
		if exists == 0 {
			stmts = append(stmts,
				`CREATE TABLE folder_stats (customer_id INTEGER NOT NULL, folder TEXT NOT NULL, kind TEXT NOT NULL,
				files INTEGER NOT NULL, bytes INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 0,
				PRIMARY KEY (customer_id, folder, kind)) WITHOUT ROWID`,
				`INSERT INTO folder_stats (customer_id, folder, kind, files, bytes, version)
				SELECT customer_id, folder, kind, count(*), COALESCE(sum(size), 0), 1 FROM files GROUP BY customer_id, folder, kind`)
		} else {
			if err := tx.Raw("SELECT count(*) FROM pragma_table_info('folder_stats') WHERE name = 'version'").Scan(&versioned).Error; err != nil {
				return err
			}
			if versioned == 0 {
				stmts = append(stmts, "ALTER TABLE folder_stats ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
			}
		}
		stmts = append(stmts, "DROP TRIGGER IF EXISTS files_stats_insert", "DROP TRIGGER IF EXISTS files_stats_delete",
			"DROP TRIGGER IF EXISTS files_stats_update")
		for _, q := range append(stmts, folderStatsTriggers...) {
			if err := tx.Exec(q).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// scopeStats reads folder_stats for a whole folder, or for all recordings of a customer
// (customerID 0: of every customer): the exact number of files and the scope's version, a sum
// that grows with every insert, update and delete of a file in the scope (rows of folder_stats
// are never removed and their versions only grow).
func (s *Store) scopeStats(ctx context.Context, customerID uint, folder string) (files, version int64, err error) {
	q := "SELECT COALESCE(sum(files), 0), COALESCE(sum(version), 0) FROM folder_stats WHERE "
	var args []any
	switch {
	case folder != "":
		q, args = q+"customer_id = ? AND folder = ?", []any{customerID, folder}
	case customerID != 0:
		q, args = q+"customer_id = ? AND kind = ?", []any{customerID, KindRecording}
	default:
		q, args = q+"kind = ?", []any{KindRecording}
	}
	err = s.queryRow(ctx, q, args...).Scan(&files, &version)
	return files, version, err
}
