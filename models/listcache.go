package models

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// listCache keeps recent listings (a page's rows, a filtered count) under the version of their
// scope from folder_stats. A listing is only ever answered from here when the version read
// before it in the same request is the one it was read at, and the triggers move the version
// with every insert, update and delete of a file in the scope, in the writer's transaction and
// whatever process writes: so the cache never answers with anything a fresh query would not.
// What it saves is SQLite's walk over the page's rows (a large part of a page's time on a big
// folder), for the pages people look at again and again: the first pages of a folder, the sort
// orders, paging back and forth, several people on one folder.
//
// The version is read first and the listing after it (never the other way round), so a listing
// kept under a version is at least as new as that version.
//
// Memory is bounded by rows: two generations of maps, the older dropped when the newer holds
// listCacheRows rows (a hit in the older moves the entry to the newer).
type listCache struct {
	mu       sync.Mutex
	cur, old map[string]listEntry
	rows     int
	hits     atomic.Int64       // for tests and BENCHMARKS.md
	flights  singleflight.Group // listings being read
}

// listCacheRows bounds the rows of a generation: 100 pages of 50.
const listCacheRows = 5_000

type listEntry struct {
	version int64
	files   []File // read-only: BrowsePage.Files shares it
	more    bool
	next    string // the page's cursors
	prev    string
	n       int64  // a count's answer
	id      uint64 // the kept listing's identity (BrowsePage.Listing); 0 when not kept
}

// listingIDs numbers the listings the cache keeps: each number names one listing of one scope
// at one version, never another, so what callers make of the listing may be kept under it.
var listingIDs atomic.Uint64

// fetch answers a listing from the cache when it was read at version, else from read. A read
// is kept only when current, asked after it, still gives version: then the rows are exactly
// the scope at that version (a write committed meanwhile would have moved it). Concurrent
// misses of one listing (many people on a folder that just got a recording) share one read.
// An empty key (a query the key cannot spell) is read every time.
func (c *listCache) fetch(key string, version int64, read func() (listEntry, error), current func() (int64, error)) (listEntry, error) {
	if e, ok := c.get(key, version); ok {
		return e, nil
	}
	load := func() (listEntry, error) {
		e, err := read()
		if err != nil || key == "" {
			return e, err
		}
		now, err := current()
		if err != nil {
			return e, err
		}
		if now == version {
			e.version, e.id = version, listingIDs.Add(1)
			c.put(key, e)
		}
		return e, nil
	}
	if key == "" {
		return load()
	}
	v, err, _ := c.flights.Do(key+"@"+strconv.FormatInt(version, 10), func() (any, error) { return load() })
	e, _ := v.(listEntry)
	return e, err
}

func (c *listCache) get(key string, version int64) (listEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cur[key]
	if !ok {
		if e, ok = c.old[key]; ok && e.version == version {
			delete(c.old, key)
			c.putLocked(key, e)
		}
	}
	if !ok || e.version != version {
		return listEntry{}, false
	}
	c.hits.Add(1)
	return e, true
}

func (c *listCache) put(key string, e listEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(key, e)
}

func (c *listCache) putLocked(key string, e listEntry) {
	if c.cur == nil {
		c.cur = map[string]listEntry{}
	}
	if prev, ok := c.cur[key]; ok {
		c.rows -= len(prev.files)
	}
	if c.rows+len(e.files) > listCacheRows {
		c.old, c.cur, c.rows = c.cur, map[string]listEntry{}, 0
	}
	c.cur[key] = e
	c.rows += len(e.files)
}

// listKey is the cache key of a query: its SQL text and arguments (the arguments hold the scope:
// the customer and folder), and for a listing what else shapes the page made of its rows.
func listKey(kind byte, query string, args []any) string {
	b := make([]byte, 0, len(query)+16*len(args)+2)
	b = append(b, kind)
	b = append(b, query...)
	for _, a := range args {
		b = append(b, 0)
		switch v := a.(type) {
		case uint:
			b = strconv.AppendUint(b, uint64(v), 10)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case string: // length-prefixed: no two argument lists make the same key
			b = strconv.AppendInt(b, int64(len(v)), 10)
			b = append(b, ':')
			b = append(b, v...)
		case bool:
			b = strconv.AppendBool(b, v)
		case time.Time:
			b = v.UTC().AppendFormat(b, time.RFC3339Nano)
		default:
			// Not an argument Browse passes: such a query is not cached (an empty key).
			return ""
		}
	}
	return string(b)
}
