package web

import (
	"maps"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// cachedSessions keeps the sessions this process has seen in memory in front of the database's
// session store (models.Store.SessionStore), so a page view does not read its session from the
// database. Commit and Delete go through it, so what this process writes it sees at once. What
// other processes write (a logout on another node of one PostgreSQL database) it sees after at
// most ttl, Store.SessionCacheTTL: an entry is read from the table again once it is that old. A
// ttl of 0 keeps entries until their session expires, right where this process is the table's
// only writer (SQLite). Within ttl a commit of a session another process deleted does not
// write it back (update); one that was forgotten for room (max) is committed as scs does.
type cachedSessions struct {
	db    scs.Store
	codec scs.Codec // reads a session's deadline from its data
	max   int
	ttl   time.Duration    // 0: until the session expires
	now   func() time.Time // time.Now; tests move it
	// update writes a session this process has in memory only if its row still exists
	// (Store.SessionUpdater; nil for a table only this process writes), so a commit here does
	// not bring back a session another process deleted within ttl.
	update func(token string, b []byte, expiry time.Time) (bool, error)

	mu      sync.Mutex
	entries map[string]cachedSession
}

type cachedSession struct {
	data   []byte
	expiry time.Time // the session's expiry, or sooner: when the entry must be read again
}

// newCachedSessions caches up to max sessions (beyond that, expired ones go first, then any),
// each for at most ttl (0: until it expires).
func newCachedSessions(db scs.Store, codec scs.Codec, max int, ttl time.Duration) *cachedSessions {
	return &cachedSessions{db: db, codec: codec, max: max, ttl: ttl, now: time.Now, entries: map[string]cachedSession{}}
}

func (s *cachedSessions) Find(token string) ([]byte, bool, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.entries[token]
	if ok && !now.Before(e.expiry) { // expired, or read too long ago: the table says which
		delete(s.entries, token)
		ok = false
	}
	s.mu.Unlock()
	if ok {
		return e.data, true, nil
	}
	b, found, err := s.db.Find(token)
	if err != nil || !found {
		return b, found, err
	}
	// scs.Store does not return the expiry; the session's data carries it (its deadline).
	deadline, _, err := s.codec.Decode(b)
	if err != nil {
		return b, true, nil // scs reports the broken session itself
	}
	s.put(token, cachedSession{data: b, expiry: deadline}, now) // as old as the read's start
	return b, true, nil
}

func (s *cachedSessions) Commit(token string, b []byte, expiry time.Time) error {
	// Drop first: a failed write must not leave the cache ahead of the table.
	known := s.drop(token)
	now := s.now()
	if known && s.update != nil {
		// A session read from the table: rewritten only while it is there. Gone means another
		// node ended it; it stays ended (the cookie finds nothing at its next request).
		if ok, err := s.update(token, b, expiry); err != nil || !ok {
			return err
		}
	} else if err := s.db.Commit(token, b, expiry); err != nil {
		return err
	}
	s.put(token, cachedSession{data: b, expiry: expiry}, now)
	return nil
}

func (s *cachedSessions) Delete(token string) error {
	s.drop(token)
	return s.db.Delete(token)
}

// drop forgets token and says whether it was in memory.
func (s *cachedSessions) drop(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.entries[token]
	delete(s.entries, token)
	return ok
}

// put keeps e, read or written at now, until its session expires or for ttl.
func (s *cachedSessions) put(token string, e cachedSession, now time.Time) {
	if s.ttl > 0 && e.expiry.After(now.Add(s.ttl)) {
		e.expiry = now.Add(s.ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) >= s.max {
		for k, v := range s.entries {
			if !now.Before(v.expiry) {
				delete(s.entries, k)
			}
		}
		for k := range s.entries { // still full: forget arbitrary ones, the table has them
			if len(s.entries) < s.max {
				break
			}
			delete(s.entries, k)
		}
	}
	s.entries[token] = e
}

// cachedCodec remembers the decoded form of the session values it has encoded or decoded, so
// a page view does not gob-decode its session (gob compiles its decoder on every call: ~50 µs,
// a tenth of a File Browser page). A session's bytes decode to the same values every time; the
// values are copied out, as scs changes its map.
type cachedCodec struct {
	scs.Codec
	max int

	mu      sync.Mutex
	decoded map[string]decodedSession
}

type decodedSession struct {
	deadline time.Time
	values   map[string]any
}

func newCachedCodec(c scs.Codec, max int) *cachedCodec {
	return &cachedCodec{Codec: c, max: max, decoded: map[string]decodedSession{}}
}

func (c *cachedCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	b, err := c.Codec.Encode(deadline, values)
	if err == nil {
		c.remember(string(b), decodedSession{deadline, maps.Clone(values)})
	}
	return b, err
}

func (c *cachedCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	c.mu.Lock()
	d, ok := c.decoded[string(b)]
	c.mu.Unlock()
	if ok {
		return d.deadline, maps.Clone(d.values), nil
	}
	deadline, values, err := c.Codec.Decode(b)
	if err == nil {
		c.remember(string(b), decodedSession{deadline, maps.Clone(values)})
	}
	return deadline, values, err
}

func (c *cachedCodec) remember(key string, d decodedSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.decoded) >= c.max {
		clear(c.decoded) // the sessions in use come back on their next request
	}
	c.decoded[key] = d
}
