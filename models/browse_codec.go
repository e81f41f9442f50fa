package models

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
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

// browseColumnsRead are the File columns a listing reads, in the order the dialects' scanList
// takes them; browseColumnsBrief those of a Brief one.
var (
	browseColumnsRead = [...]string{"id", "customer_id", "folder", "name", "path", "kind", "size", "codec", "bits", "rate",
		"channels", "duration_ms", "ready", "call_at", "a", "b", "c", "pool_id", "created_at"}
	browseColumnsBrief = [...]string{"id", "name", "size", "duration_ms", "call_at", "a", "b", "c"}
)

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
