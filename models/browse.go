package models

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"
)

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
	// (default 1,000: counting the index entries of a folder of 100,000 recordings costs more
	// than the whole page), -1 counts them all.
	NoTotal    bool
	CountLimit int
	// Brief reads only what the File Browser's list shows (ID, Name, CallAt, A, B, C,
	// DurationMS, Size); the other fields stay zero. SQLite's work per listed row grows with
	// the columns it reads.
	Brief bool
	// Fresh reads the scope's version from the database even where it is kept in memory
	// (scopeVersions, PostgreSQL): for a request right after its user's own write, which may
	// have been made on another node whose notification has not arrived here yet.
	Fresh bool
}

// BrowsePage is one page of files with the cursors to its neighbours ("" when none).
type BrowsePage struct {
	Files      []File // shared with the listing cache: read it, never change it
	Next, Prev string
	Total      int64 // -1 when not counted
	TotalMore  bool  // there are more than Total (the count was capped)
	Sort       string
	Desc       bool
	// Listing names this page's rows: the same number is given only to pages that list the same
	// files with the same values (one listing of the scope at one version of it: see listCache),
	// so what a caller makes of Files alone may be kept under it. 0 when the listing was read
	// while the scope changed and is not kept.
	Listing uint64
}

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
	plus := "" // keeps SQLite from walking a sort index past rows the number filter drops (dialect.noIndex)
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
				wargs = append(wargs, n, prefixEnd(n))
			}
		}
		where[0] = "id IN (" + strings.Join(sub, " UNION ") + ")"
		plus = s.d.noIndex()
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
	list := "SELECT " + s.d.listSelect(q.Brief) + " FROM files WHERE " + cond
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
	// The scope's version (and a whole folder's exact total) first, kept on PostgreSQL as
	// scopeVersions says, then the listing: from the cache when it was read at this version,
	// else from the database (see listCache), whose version is then read anew.
	read := func() (int64, int64, error) { return s.scopeStats(ctx, customer, q.Folder) }
	stats := s.versions.stats
	if q.Fresh {
		stats = s.versions.fresh
	}
	stored, version, err := stats(customer, q.Folder, read)
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
	page.Listing = e.id
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

// readListing reads a page of q from the database (the statement list with args: up to q.Limit rows
// and one more, which says there are more) and makes its cursors; from is the cursor the page
// follows, if any.
func (s *Store) readListing(ctx context.Context, q BrowseQuery, from *cursor, list string, args []any) (listEntry, error) {
	var e listEntry
	if s.listTrace != nil {
		s.listTrace(list, args)
	}
	rs, err := s.query(ctx, list, args...)
	if err != nil {
		return e, err
	}
	defer rs.Close()
	rows := make([]File, 0, q.Limit+1)
	for rs.Next() {
		f, err := s.d.scanList(rs, q.Brief)
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
// are more than the returned count: counting a big folder's index entries costs more than
// showing a page of it. The answer is kept in the listing cache under the scope's version.
func (s *Store) countCapped(ctx context.Context, cond string, args []any, limit int, version int64) (n int64, more bool, err error) {
	if limit == 0 {
		limit = 1000
	}
	q := "SELECT count(*) FROM files WHERE " + cond
	if limit > 0 {
		q = "SELECT count(*) FROM (SELECT 1 FROM files WHERE " + cond + " LIMIT ?) AS capped"
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
		if err := s.bounded(ctx).Model(&File{}).Where("customer_id = ? AND folder > ? AND folder < ?", owner.ID, last, prefixEnd(prefix)).
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
			last = prefix + name + "/" + maxRune // past every folder inside name
		}
	}
	return out, nil
}

// maxRune is the greatest character: a string that begins with p sorts below p+maxRune (for text
// a person or the store writes), bytewise as both databases compare text. It is valid UTF-8,
// which PostgreSQL insists on (SQLite's habit of "\xff" is not).
const maxRune = "\U0010FFFF"

// prefixEnd is the least string above every string that begins with p: [p, prefixEnd(p)) is a
// prefix search an index answers. The store's prefixes (folders ending in "/", digits) end in
// ASCII, where it is p with its last byte one higher.
func prefixEnd(p string) string {
	if p == "" || p[len(p)-1] >= 0x7f {
		return p + maxRune
	}
	return p[:len(p)-1] + string(rune(p[len(p)-1]+1))
}
