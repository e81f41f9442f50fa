package models

import (
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// readCache keeps in memory what nearly every request looks up and what almost never changes:
// the session's user with its customer, an API token's user, a folder's owner, a pool's owner.
// Each lookup is a cheap prepared query, but every request makes several of them, which added
// up to a noticeable share of a File Browser page (BENCHMARKS.md).
//
// Any write through the Store to a table these come from (or a raw statement, which may write
// anything) empties the cache: GORM calls invalidate after the statement and after its own
// transaction's commit. A read that overlapped such a write is not kept. Entries also expire
// after readCacheTTL, which bounds what stays stale when another process writes a SQLite database
// (the callrec CLI) or an explicit transaction commits after its statements ran. On PostgreSQL
// every commit that changed those tables, whichever process made it, also empties the cache
// (a NOTIFY from the tables' triggers: dialect.watch). Failed lookups are not kept.
type readCache struct {
	ttl     time.Duration // 0: readCacheTTL (tests lengthen it)
	gen     atomic.Uint64
	entries sync.Map // cacheKey -> cacheEntry
	n       atomic.Int64
}

const (
	readCacheTTL = time.Second
	readCacheMax = 10_000 // entries; beyond, the cache starts over
)

// Kinds of cached lookups.
const (
	cacheUser       uint8 = iota + 1 // id: user id
	cacheToken                       // s: token hash
	cacheSubscriber                  // s: subscriber ID -> customer
	cachePool                        // id: pool id -> its customer id
	cacheCountry                     // id: customer id -> its numbers' country code
	cachePoolNames                   // id: customer id -> its pools' names by start number
)

type cacheKey struct {
	kind uint8
	id   uint
	s    string
}

type cacheEntry struct {
	v     any
	gen   uint64
	until time.Time
}

// readCacheTables are the tables the cached lookups read.
var readCacheTables = map[string]bool{"users": true, "customers": true, "api_tokens": true, "pools": true}

// invalidate drops every entry.
func (c *readCache) invalidate() {
	c.gen.Add(1)
	c.entries.Clear()
	c.n.Store(0)
}

// watch registers the callbacks that invalidate c on writes through db.
func (c *readCache) watch(db *gorm.DB) error {
	after := func(db *gorm.DB) {
		if t := db.Statement.Table; t == "" || readCacheTables[t] {
			c.invalidate()
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("*").Register("callrec:read_cache", after),
		cb.Update().After("*").Register("callrec:read_cache", after),
		cb.Delete().After("*").Register("callrec:read_cache", after),
		cb.Raw().After("*").Register("callrec:read_cache", func(*gorm.DB) { c.invalidate() }),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// cached answers k from c or, on a miss, from load (and keeps the answer if it succeeded and no
// write happened meanwhile). Callers must not change what a pointer in the answer points to.
func cached[T any](c *readCache, k cacheKey, load func() (T, error)) (T, error) {
	gen := c.gen.Load()
	now := time.Now()
	if e, ok := c.entries.Load(k); ok {
		if e := e.(cacheEntry); e.gen == gen && now.Before(e.until) {
			return e.v.(T), nil
		}
	}
	v, err := load()
	if err != nil || c.gen.Load() != gen {
		return v, err
	}
	if c.n.Load() >= readCacheMax {
		c.entries.Clear()
		c.n.Store(0)
	}
	ttl := c.ttl
	if ttl == 0 {
		ttl = readCacheTTL
	}
	if _, loaded := c.entries.Swap(k, cacheEntry{v: v, gen: gen, until: now.Add(ttl)}); !loaded {
		c.n.Add(1)
	}
	return v, nil
}
