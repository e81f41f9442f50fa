package models

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

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
