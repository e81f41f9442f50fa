package models

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
	"gorm.io/gorm"
)

// RecordingsRoot is the top folder of recordings: call_recording/<subscriberId>/<startNumber>.
const RecordingsRoot = "call_recording"

// Sort keys of the File Browser and their columns. Each has an index (customer_id, folder,
// column) so that a page of a folder with 100,000 recordings is an index range scan, never a sort.
var browseColumns = map[string]string{
	"name": "name", "date": "call_at", "caller": "a", "dialed": "b", "destination": "c",
	"duration": "duration_ms", "size": "size",
}

// BrowseSorts lists the sort keys in the order the list shows its columns.
var BrowseSorts = []string{"name", "date", "caller", "dialed", "destination", "duration", "size"}

// migrateBrowse adds the File Browser's indexes (files is the lead's table; the indexes are
// ours, so they are created here instead of in File's tags).
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

// BrowseQuery selects one page of files: a folder's (Folder set) or all recordings a may see
// (Folder empty, the API's list).
type BrowseQuery struct {
	Folder string
	// CustomerID limits a folder-less query to one customer (the File Browser's search at
	// call_recording/<subscriberId>); a may only name its own.
	CustomerID uint
	Sort       string // a BrowseSorts key; default "date" for recordings, "name" otherwise
	Desc       bool
	From       time.Time // call time, inclusive; zero = open
	To         time.Time // call time, exclusive; zero = open
	Number     string    // part of a, b or c
	PoolID     uint
	Cursor     string // from a previous BrowsePage's Next or Prev: keyset pagination
	Page       int    // 1-based page by offset, when there is no cursor (API convenience)
	Limit      int    // default 50, at most 500
	// NoTotal skips counting the matches. A whole folder's (or all recordings') total is exact
	// from folder_stats unless CountLimit caps it; a filtered one is counted up to CountLimit
	// (default 1,000: counting 100,000 index entries costs ~17 ms, more than the whole page),
	// -1 counts them all.
	NoTotal    bool
	CountLimit int
	// Brief reads only what the File Browser's list shows (ID, Name, CallAt, A, B, C,
	// DurationMS, Size); the other fields stay zero. SQLite's work per listed row grows with
	// the columns it reads: half the columns are about half of it.
	Brief bool
}

// BrowsePage is one page of files with the cursors to its neighbours ("" when none).
type BrowsePage struct {
	Files      []File // shared with the listing cache: read it, never change it
	Next, Prev string
	Total      int64 // -1 when not counted
	TotalMore  bool  // there are more than Total (the count was capped)
	Sort       string
	Desc       bool
	// Memo keeps what callers make of Files (the rendered list) for as long as this listing
	// is in the listing cache: every page that gets the same Memo lists the same files with the
	// same values. nil when the listing was not kept.
	Memo *Memo
}

// cursor is the keyset position: the sort column's value and id of a row, and which way to go.
type cursor struct {
	Sort   string `json:"s"`
	Desc   bool   `json:"d"`
	Value  string `json:"v"`
	ID     uint   `json:"i"`
	Before bool   `json:"b,omitempty"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 512 {
		return cursor{}, false
	}
	var c cursor
	if json.Unmarshal(b, &c) != nil || browseColumns[c.Sort] == "" {
		return cursor{}, false
	}
	return c, true
}

// sortValue is f's value of the sort key, as a cursor keeps it.
func sortValue(f File, key string) string {
	switch key {
	case "name":
		return f.Name
	case "date":
		if f.CallAt == nil {
			return ""
		}
		return f.CallAt.UTC().Format(time.RFC3339Nano)
	case "caller":
		return f.A
	case "dialed":
		return f.B
	case "destination":
		return f.C
	case "duration":
		return strconv.FormatInt(f.DurationMS, 10)
	case "size":
		return strconv.FormatInt(f.Size, 10)
	}
	return ""
}

// cursorArg turns a cursor's value back into the column's type.
func cursorArg(key, v string) (any, bool) {
	switch key {
	case "date":
		t, err := time.Parse(time.RFC3339Nano, v)
		return t.UTC(), err == nil
	case "duration", "size":
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return v, true
}

// browseColumnsRead are the File columns a listing reads, in the order parseBrowseRow takes them;
// browseColumnsBrief those of a Brief one.
var (
	browseColumnsRead = [...]string{"id", "customer_id", "folder", "name", "path", "kind", "size", "codec", "bits", "rate",
		"channels", "duration_ms", "ready", "call_at", "a", "b", "c", "pool_id", "created_at"}
	browseColumnsBrief = [...]string{"id", "name", "size", "duration_ms", "call_at", "a", "b", "c"}
)

// browseRow and browseRowBrief select a listed file as one text value, its columns joined by
// NUL (no column holds one: names and paths are file names, numbers are digits), NULL as "".
// The SQLite driver makes two or three cgo calls per column of every row; for a page of 50 rows
// of 19 columns that was most of the page's cost. concat builds the value in one pass (a chain
// of || copies it once per column; concat_ws would drop empty fields with their separators).
var (
	browseRow      = "concat(" + strings.Join(browseColumnsRead[:], ", char(0), ") + ")"
	browseRowBrief = "concat(" + strings.Join(browseColumnsBrief[:], ", char(0), ") + ")"
)

// parseBrowseRow reads a browseRow (or, brief, a browseRowBrief) value back into a File. The
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
// with "+00:00" is read by hand (time.Parse was half of a listing row's cost); anything else
// goes through the layouts the driver itself accepts.
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

// ErrBadQuery is a query parameter out of range (an unknown sort key, a broken cursor).
var ErrBadQuery = errors.New("bad query")

// FolderOwner is the customer a folder of the tree belongs to; ErrNotFound when a may not see it.
// Recording folders are call_recording/<subscriberId>[/...]; they need MayOpenRecordings.
func (s *Store) FolderOwner(ctx context.Context, a Actor, folder string) (Customer, error) {
	parts := strings.Split(folder, "/")
	if len(parts) < 2 || parts[1] == "" {
		return Customer{}, ErrNotFound
	}
	if parts[0] == RecordingsRoot && !a.MayOpenRecordings() {
		return Customer{}, ErrNotFound
	}
	// Every File Browser page and list call asks: one prepared query, no GORM reflection, and
	// kept in the read cache.
	c, err := cached(&s.cache, cacheKey{kind: cacheSubscriber, s: parts[1]}, func() (Customer, error) {
		var c Customer
		err := s.queryRow(ctx, `SELECT id, name, subscriber_id, language, time_zone, created_at, updated_at
			FROM customers WHERE subscriber_id = ?`, parts[1]).
			Scan(&c.ID, &c.Name, &c.SubscriberID, &c.Language, &c.TimeZone, &c.CreatedAt, &c.UpdatedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return Customer{}, ErrNotFound
		}
		return c, err
	})
	if err != nil {
		return Customer{}, err
	}
	if !a.IsPlatformAdmin() && c.ID != a.CustomerID {
		return Customer{}, ErrNotFound
	}
	return c, nil
}

// Browse returns one page of files. With a Folder the folder's owner must be visible to a;
// without, the recordings of a's customer (every customer's for the platform admin).
func (s *Store) Browse(ctx context.Context, a Actor, q BrowseQuery) (BrowsePage, error) {
	if !a.MayOpenRecordings() && (q.Folder == "" || strings.HasPrefix(q.Folder, RecordingsRoot+"/")) {
		return BrowsePage{}, ErrNotFound
	}
	if q.Sort == "" {
		q.Sort = "date"
		if q.Folder != "" && !strings.HasPrefix(q.Folder, RecordingsRoot+"/") {
			q.Sort = "name"
		}
		q.Desc = q.Sort == "date"
	}
	col := browseColumns[q.Sort]
	if col == "" {
		return BrowsePage{}, ErrBadQuery
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	// scope is what a may list: one folder, one customer's recordings, or all recordings a sees.
	var scope string
	var args []any
	var customer uint // the one customer in scope; 0 for the platform admin's list of all
	switch {
	case q.Folder != "":
		owner, err := s.FolderOwner(ctx, a, q.Folder)
		if err != nil {
			return BrowsePage{}, err
		}
		customer = owner.ID
		scope, args = "customer_id = ? AND folder = ?", []any{owner.ID, q.Folder}
	case q.CustomerID != 0:
		if !a.IsPlatformAdmin() && q.CustomerID != a.CustomerID {
			return BrowsePage{}, ErrNotFound
		}
		customer = q.CustomerID
		scope, args = "customer_id = ? AND kind = ?", []any{q.CustomerID, KindRecording}
	case a.IsPlatformAdmin():
		scope, args = "kind = ?", []any{KindRecording}
	default:
		customer = a.CustomerID
		scope, args = "customer_id = ? AND kind = ?", []any{a.CustomerID, KindRecording}
	}
	// The query is built as SQL text and run as a cached prepared statement (the text depends
	// only on which filters are set, the sort and the direction, so there are few of them).
	numbers := s.searchNumbers(ctx, customer, q.Number)
	where := []string{"(" + scope + ")"}
	wargs := args
	plus := "" // "+" keeps SQLite from walking a sort index past rows the number filter drops
	if len(numbers) > 0 {
		// A number is a prefix range on each of the a, b and c indexes; the matching ids are
		// collected first (index range scans) and only they are read and sorted. Left to
		// itself SQLite would walk the sort column's index and test all 100,000 rows.
		var sub []string
		wargs = nil
		for _, n := range numbers {
			for _, c := range []string{"a", "b", "c"} {
				sub = append(sub, "SELECT id FROM files WHERE "+scope+" AND "+c+" >= ? AND "+c+" < ?")
				wargs = append(wargs, args...)
				wargs = append(wargs, n, n+"\xff")
			}
		}
		where[0] = "id IN (" + strings.Join(sub, " UNION ") + ")"
		plus = "+"
	}
	if !q.From.IsZero() {
		where, wargs = append(where, plus+"call_at >= ?"), append(wargs, q.From.UTC())
	}
	if !q.To.IsZero() {
		where, wargs = append(where, plus+"call_at < ?"), append(wargs, q.To.UTC())
	}
	if q.PoolID != 0 {
		where, wargs = append(where, plus+"pool_id = ?"), append(wargs, q.PoolID)
	}
	cond := strings.Join(where, " AND ")
	page := BrowsePage{Total: -1, Sort: q.Sort, Desc: q.Desc}
	filtered := len(numbers) > 0 || !q.From.IsZero() || !q.To.IsZero() || q.PoolID != 0
	var from *cursor // where the page starts, when it follows a cursor
	if q.Cursor != "" {
		c, ok := decodeCursor(q.Cursor)
		if !ok || c.Sort != q.Sort || c.Desc != q.Desc {
			return BrowsePage{}, ErrBadQuery
		}
		from = &c
	}
	backwards := from != nil && from.Before
	// Walking backwards (a "previous" cursor) reverses the order and the comparison.
	dir, cmp := "ASC", ">"
	if q.Desc != backwards {
		dir, cmp = "DESC", "<"
	}
	read := browseRow
	if q.Brief {
		read = browseRowBrief
	}
	list := "SELECT " + read + " FROM files WHERE " + cond
	largs := slices.Clip(wargs)
	if from != nil {
		v, ok := cursorArg(q.Sort, from.Value)
		if !ok {
			return BrowsePage{}, ErrBadQuery
		}
		list += " AND (" + plus + col + ", id) " + cmp + " (?, ?)"
		largs = append(largs, v, from.ID)
	}
	list += " ORDER BY " + plus + col + " " + dir + ", id " + dir + " LIMIT ?"
	largs = append(largs, q.Limit+1)
	if from == nil && q.Page > 1 {
		list += " OFFSET ?"
		largs = append(largs, (q.Page-1)*q.Limit)
	}
	// The scope's version (and a whole folder's exact total) first, then the listing: from the
	// cache when it was read at this version, else from SQLite (see listCache).
	stored, version, err := s.scopeStats(ctx, customer, q.Folder)
	if err != nil {
		return BrowsePage{}, err
	}
	// The order asked for and the way walked shape the page beyond the SQL: a "previous" page
	// of an ascending list runs the same statement as a "next" page of a descending one.
	key := listKey('l', list, append(slices.Clip(largs), q.Desc, backwards))
	e, err := s.lists.fetch(key, version,
		func() (listEntry, error) { return s.readListing(ctx, q, from, list, largs) },
		func() (int64, error) {
			_, v, err := s.scopeStats(ctx, customer, q.Folder)
			return v, err
		})
	if err != nil {
		return BrowsePage{}, err
	}
	page.Memo = e.memo
	rows, more := e.files, e.more
	switch {
	case q.NoTotal:
	case !filtered && q.CountLimit <= 0: // the whole folder (or all recordings): exact, from folder_stats
		page.Total = stored
	case !more && from == nil && q.Page <= 1:
		page.Total = int64(len(rows)) // the first page holds them all: nothing to count
	default:
		if page.Total, page.TotalMore, err = s.countCapped(ctx, cond, wargs, q.CountLimit, version); err != nil {
			return BrowsePage{}, err
		}
	}
	page.Files, page.Next, page.Prev = rows, e.next, e.prev
	return page, nil
}

// cursors are the Next and Prev of a page of rows (more: there are rows after it) of q, which
// came from cur when there was one.
func cursors(q BrowseQuery, cur *cursor, rows []File, more bool) (next, prev string) {
	if len(rows) == 0 {
		return "", ""
	}
	first, last := rows[0], rows[len(rows)-1]
	mk := func(f File, before bool) string {
		return cursor{Sort: q.Sort, Desc: q.Desc, Value: sortValue(f, q.Sort), ID: f.ID, Before: before}.encode()
	}
	switch {
	case cur != nil && cur.Before:
		next = mk(last, false)
		if more {
			prev = mk(first, true)
		}
	default:
		if more {
			next = mk(last, false)
		}
		if cur != nil || q.Page > 1 {
			prev = mk(first, true)
		}
	}
	return next, prev
}

// readListing reads a page of q from SQLite (the statement list with args: up to q.Limit rows
// and one more, which says there are more) and makes its cursors; from is the cursor the page
// follows, if any.
func (s *Store) readListing(ctx context.Context, q BrowseQuery, from *cursor, list string, args []any) (listEntry, error) {
	var e listEntry
	rs, err := s.query(ctx, list, args...)
	if err != nil {
		return e, err
	}
	defer rs.Close()
	rows := make([]File, 0, q.Limit+1)
	for rs.Next() {
		var v string
		if err := rs.Scan(&v); err != nil {
			return e, err
		}
		f, err := parseBrowseRow(v, q.Brief)
		if err != nil {
			return e, err
		}
		rows = append(rows, f)
	}
	if err := rs.Err(); err != nil {
		return e, err
	}
	if e.more = len(rows) > q.Limit; e.more {
		rows = rows[:q.Limit]
	}
	e.files = slices.Clip(rows) // shared with callers: their appends copy
	if from != nil && from.Before {
		slices.Reverse(e.files)
	}
	e.next, e.prev = cursors(q, from, e.files, e.more)
	return e, nil
}

// countCapped counts the files matching cond up to limit (0: 1,000; -1: all); more says there
// are more than the returned count. Counting 100,000 index entries costs ~17 ms, more than a page.
// The answer is kept in the listing cache under the scope's version.
func (s *Store) countCapped(ctx context.Context, cond string, args []any, limit int, version int64) (n int64, more bool, err error) {
	if limit == 0 {
		limit = 1000
	}
	q := "SELECT count(*) FROM files WHERE " + cond
	if limit > 0 {
		q = "SELECT count(*) FROM (SELECT 1 FROM files WHERE " + cond + " LIMIT ?)"
		args = append(slices.Clip(args), limit+1)
	}
	key := listKey('c', q, args)
	if e, ok := s.lists.get(key, version); ok {
		return e.n, e.more, nil
	}
	if err := s.queryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, false, err
	}
	if limit > 0 && n > int64(limit) {
		n, more = int64(limit), true
	}
	if key != "" {
		s.lists.put(key, listEntry{version: version, n: n, more: more})
	}
	return n, more, nil
}

// NormalizeNumber keeps the digits of a number as typed ("+49 711 / 218-43" -> "4971121843"); a
// leading 00 (international prefix) goes too, as numbers are stored without it.
func NormalizeNumber(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return strings.TrimPrefix(b.String(), "00")
}

// Folder is a sub-folder in a listing.
type Folder struct {
	Path string // e.g. call_recording/337826
	Name string // last element
}

// SubFolders lists the folders directly inside folder that a may see: "" is the root
// (announcements, and call_recording for authorized persons); call_recording lists the
// subscriber folders; deeper folders come from the file rows (an index skip-scan, one seek per
// folder, so a folder of 100,000 recordings costs nothing here).
func (s *Store) SubFolders(ctx context.Context, a Actor, folder string) ([]Folder, error) {
	switch folder {
	case "":
		out := []Folder{{Path: AnnouncementsRoot, Name: AnnouncementsRoot}}
		if a.MayOpenRecordings() {
			out = append(out, Folder{Path: RecordingsRoot, Name: RecordingsRoot})
		}
		return out, nil
	case RecordingsRoot, AnnouncementsRoot:
		if folder == RecordingsRoot && !a.MayOpenRecordings() {
			return nil, ErrNotFound
		}
		var subs []string
		q := s.bounded(ctx).Model(&Customer{})
		if !a.IsPlatformAdmin() {
			q = q.Where("id = ?", a.CustomerID)
		}
		if err := q.Order("subscriber_id").Pluck("subscriber_id", &subs).Error; err != nil {
			return nil, err
		}
		out := make([]Folder, len(subs))
		for i, sub := range subs {
			out[i] = Folder{Path: folder + "/" + sub, Name: sub}
		}
		return out, nil
	}
	owner, err := s.FolderOwner(ctx, a, folder)
	if err != nil {
		return nil, err
	}
	prefix := folder + "/"
	var out []Folder
	last := prefix
	for range 10000 {
		var next []string
		if err := s.bounded(ctx).Model(&File{}).Where("customer_id = ? AND folder > ? AND folder < ?", owner.ID, last, prefix+"\xff").
			Order("folder").Limit(1).Pluck("folder", &next).Error; err != nil {
			return nil, err
		}
		if len(next) == 0 {
			break
		}
		rest := strings.TrimPrefix(next[0], prefix)
		name, _, deeper := strings.Cut(rest, "/")
		out = append(out, Folder{Path: prefix + name, Name: name})
		last = next[0]
		if deeper {
			last = prefix + name + "/\xff"
		}
	}
	return out, nil
}

// CreateFileRows records many files at once: one transaction, one prepared insert (imports of a
// tree that exists on disk, and the File Browser's load test: 100,000 rows in a few seconds).
func (s *Store) CreateFileRows(ctx context.Context, rows []File) error {
	tx, err := s.SQL().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO files (customer_id, folder, name, path, kind, size, codec, bits, rate,
		channels, duration_ms, ready, call_at, a, b, c, pool_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	now := s.Now().UTC()
	for i := range rows {
		f := &rows[i]
		if f.CreatedAt.IsZero() {
			f.CreatedAt, f.UpdatedAt = now, now
		}
		var at any
		if f.CallAt != nil {
			at = f.CallAt.UTC()
		}
		res, err := st.ExecContext(ctx, f.CustomerID, f.Folder, f.Name, f.Path, f.Kind, f.Size, f.Codec, f.Bits, f.Rate,
			f.Channels, f.DurationMS, f.Ready, at, f.A, f.B, f.C, f.PoolID, f.CreatedAt, f.UpdatedAt)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		f.ID = uint(id)
	}
	return tx.Commit()
}
