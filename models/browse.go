package models

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

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
		"CREATE INDEX IF NOT EXISTS idx_files_customer_pool_at ON files(customer_id, pool_id, call_at)",
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
	return nil
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
	// NoTotal skips counting the matches; CountLimit caps the count (default 1,000: counting
	// 100,000 index entries costs ~17 ms, more than the whole page), -1 counts them all.
	NoTotal    bool
	CountLimit int
}

// BrowsePage is one page of files with the cursors to its neighbours ("" when none).
type BrowsePage struct {
	Files      []File
	Next, Prev string
	Total      int64 // -1 when not counted
	TotalMore  bool  // there are more than Total (the count was capped)
	Sort       string
	Desc       bool
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

// browseSelect is the columns a listing reads, in File's order, NULLs as zero values.
const browseSelect = "id, customer_id, folder, name, path, kind, COALESCE(size,0), COALESCE(codec,''), COALESCE(bits,0), " +
	"COALESCE(rate,0), COALESCE(channels,0), COALESCE(duration_ms,0), COALESCE(ready,0), call_at, COALESCE(a,''), " +
	"COALESCE(b,''), COALESCE(c,''), COALESCE(pool_id,0)"

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
	var c Customer
	if err := s.db.WithContext(ctx).Where("subscriber_id = ?", parts[1]).First(&c).Error; err != nil {
		return Customer{}, notFound(err)
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
	switch {
	case q.Folder != "":
		owner, err := s.FolderOwner(ctx, a, q.Folder)
		if err != nil {
			return BrowsePage{}, err
		}
		scope, args = "customer_id = ? AND folder = ?", []any{owner.ID, q.Folder}
	case q.CustomerID != 0:
		if !a.IsPlatformAdmin() && q.CustomerID != a.CustomerID {
			return BrowsePage{}, ErrNotFound
		}
		scope, args = "customer_id = ? AND kind = ?", []any{q.CustomerID, KindRecording}
	case a.IsPlatformAdmin():
		scope, args = "kind = ?", []any{KindRecording}
	default:
		scope, args = "customer_id = ? AND kind = ?", []any{a.CustomerID, KindRecording}
	}
	base := s.db.WithContext(ctx).Model(&File{})
	plus := "" // "+" keeps SQLite from walking a sort index past rows the number filter drops
	if n := NormalizeNumber(q.Number); n != "" {
		// A number is a prefix range on each of the a, b and c indexes; the matching ids are
		// collected first (three index range scans) and only they are read and sorted. Left to
		// itself SQLite would walk the sort column's index and test all 100,000 rows.
		hi := n + "\xff"
		var sub []string
		var subArgs []any
		for _, c := range []string{"a", "b", "c"} {
			sub = append(sub, "SELECT id FROM files WHERE "+scope+" AND "+c+" >= ? AND "+c+" < ?")
			subArgs = append(subArgs, args...)
			subArgs = append(subArgs, n, hi)
		}
		base = base.Where("id IN ("+strings.Join(sub, " UNION ")+")", subArgs...)
		plus = "+"
	} else {
		base = base.Where(scope, args...)
	}
	if !q.From.IsZero() {
		base = base.Where(plus+"call_at >= ?", q.From.UTC())
	}
	if !q.To.IsZero() {
		base = base.Where(plus+"call_at < ?", q.To.UTC())
	}
	if q.PoolID != 0 {
		base = base.Where(plus+"pool_id = ?", q.PoolID)
	}
	page := BrowsePage{Total: -1, Sort: q.Sort, Desc: q.Desc}
	if !q.NoTotal {
		limit := q.CountLimit
		if limit == 0 {
			limit = 1000
		}
		counted := base.Session(&gorm.Session{})
		if limit > 0 {
			counted = s.db.WithContext(ctx).Table("(?) AS capped", counted.Select("1").Limit(limit+1))
		}
		if err := counted.Count(&page.Total).Error; err != nil {
			return BrowsePage{}, err
		}
		if limit > 0 && page.Total > int64(limit) {
			page.Total, page.TotalMore = int64(limit), true
		}
	}
	var cur cursor
	haveCur := false
	if q.Cursor != "" {
		c, ok := decodeCursor(q.Cursor)
		if !ok || c.Sort != q.Sort || c.Desc != q.Desc {
			return BrowsePage{}, ErrBadQuery
		}
		cur, haveCur = c, true
	}
	// Walking backwards (a "previous" cursor) reverses the order and the comparison.
	desc := q.Desc != (haveCur && cur.Before)
	dir, cmp := "ASC", ">"
	if desc {
		dir, cmp = "DESC", "<"
	}
	list := base.Session(&gorm.Session{})
	if haveCur {
		v, ok := cursorArg(q.Sort, cur.Value)
		if !ok {
			return BrowsePage{}, ErrBadQuery
		}
		list = list.Where("("+plus+col+", id) "+cmp+" (?, ?)", v, cur.ID)
	} else if q.Page > 1 {
		list = list.Offset((q.Page - 1) * q.Limit)
	}
	// Only the listed columns, scanned by hand: GORM's reflection and the driver's parsing of
	// every datetime column were most of a page's cost.
	rs, err := list.Select(browseSelect).Order(plus + col + " " + dir + ", id " + dir).Limit(q.Limit + 1).Rows()
	if err != nil {
		return BrowsePage{}, err
	}
	defer rs.Close()
	rows := make([]File, 0, q.Limit+1)
	for rs.Next() {
		var f File
		var at sql.NullTime
		if err := rs.Scan(&f.ID, &f.CustomerID, &f.Folder, &f.Name, &f.Path, &f.Kind, &f.Size, &f.Codec, &f.Bits, &f.Rate,
			&f.Channels, &f.DurationMS, &f.Ready, &at, &f.A, &f.B, &f.C, &f.PoolID); err != nil {
			return BrowsePage{}, err
		}
		if at.Valid {
			t := at.Time.UTC()
			f.CallAt = &t
		}
		rows = append(rows, f)
	}
	if err := rs.Err(); err != nil {
		return BrowsePage{}, err
	}
	more := len(rows) > q.Limit
	if more {
		rows = rows[:q.Limit]
	}
	if haveCur && cur.Before {
		slices.Reverse(rows)
	}
	page.Files = rows
	if len(rows) == 0 {
		return page, nil
	}
	first, last := rows[0], rows[len(rows)-1]
	mk := func(f File, before bool) string {
		return cursor{Sort: q.Sort, Desc: q.Desc, Value: sortValue(f, q.Sort), ID: f.ID, Before: before}.encode()
	}
	switch {
	case haveCur && cur.Before:
		page.Next = mk(last, false)
		if more {
			page.Prev = mk(first, true)
		}
	default:
		if more {
			page.Next = mk(last, false)
		}
		if haveCur || q.Page > 1 {
			page.Prev = mk(first, true)
		}
	}
	return page, nil
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
		q := s.db.WithContext(ctx).Model(&Customer{})
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
		if err := s.db.WithContext(ctx).Model(&File{}).Where("customer_id = ? AND folder > ? AND folder < ?", owner.ID, last, prefix+"\xff").
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
