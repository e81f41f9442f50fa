package models

import "context"

// Sort keys of the File Browser and their columns. Each has an index (customer_id, folder,
// column; v1FileIndexes) so that a page of a folder with 100,000 recordings is an index range
// scan, never a sort.
var browseColumns = map[string]string{
	"name": "name", "date": "call_at", "caller": "a", "dialed": "b", "destination": "c",
	"duration": "duration_ms", "size": "size",
}

// BrowseSorts lists the sort keys in the order the list shows its columns.
var BrowseSorts = []string{"name", "date", "caller", "dialed", "destination", "duration", "size"}

// scopeStats reads folder_stats for a whole folder, or for all recordings of a customer
// (customerID 0: of every customer): the exact number of files and the scope's version, a sum
// that grows with every insert, update and delete of a file in the scope (rows of folder_stats
// are never removed and their versions only grow).
func (s *Store) scopeStats(ctx context.Context, customerID uint, folder string) (files, version int64, err error) {
	// CAST: PostgreSQL's sum of bigints is a numeric.
	q := "SELECT CAST(COALESCE(sum(files), 0) AS BIGINT), CAST(COALESCE(sum(version), 0) AS BIGINT) FROM folder_stats WHERE "
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
