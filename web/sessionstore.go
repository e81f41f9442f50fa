package web

import (
	"maps"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"callrec/models"
)

// cachedSessions keeps the sessions this process has seen in memory in front of the database's
// session store (models.Store.SessionStore), so a page view does not read its session from the
// database. The rule, stated here only:
//
//   - Commit and Delete go through it, so what this process writes it sees at once.
//   - What other processes write (a logout on another node of one PostgreSQL database) it sees
//     after at most ttl, Store.SessionCacheTTL: an entry is read from the table again once it
//     is that old. A ttl of 0 keeps entries until their session expires, right where this
//     process is the table's only writer (SQLite).
//   - Every token this process has read from the table or written is remembered until its
//     session expires, also once its data is gone (read again after ttl, or dropped for room:
//     more than max sessions). A commit of such a token writes only while its row exists
//     (update, Store.SessionUpdater; nil where no other process writes the table), so a
//     session another process deleted is not brought back. Only a token never seen here, a
//     new session, is written as scs writes it (an insert, or an upsert).
//   - A session this process deleted (a logout, the old token of a login, a revoked session)
//     stays ended: its token is kept as a tombstone until the session could have expired. Find
//     does not find it, and a commit of it (a request that had loaded the session before the
//     logout and ends after it: the live-calls stream, a ZIP download, a flash, the seen stamp)
//     writes nothing and succeeds. A token scs makes (a new session, a login's RenewToken) is
//     new, so a tombstone never stands in a real session's way.
//
// Memory: the data of at most max sessions, and a token with its expiry for each session seen
// or ended here that has not expired (expired ones are purged as their number grows, so at most
// about twice the live ones): one per row of the table this process has used.
type cachedSessions struct {
	db    scs.Store
	codec scs.Codec // reads a session's deadline from its data
	max   int
	ttl   time.Duration    // 0: until the session expires
	now   func() time.Time // time.Now; tests move it
	// update writes a session that is in the table, and reports false, writing nothing, when
	// its row is gone (Store.SessionUpdater; nil for a table only this process writes).
	update func(token string, b []byte, expiry time.Time) (bool, error)

	mu      sync.Mutex
	entries map[string]cachedSession // at most max
	tokens  map[string]sessionToken  // every token seen here, until its session's expiry
	purgeAt int                      // len(tokens) at which expired tokens are purged
}

type sessionToken struct {
	expiry time.Time // the latest the session can expire
	ended  bool      // deleted here: never found, never written again
}

type cachedSession struct {
	data   []byte
	expiry time.Time // the session's expiry, or sooner: when the entry must be read again
}

// newCachedSessions caches up to max sessions (beyond that, expired ones go first, then any),
// each for at most ttl (0: until it expires).
func newCachedSessions(db scs.Store, codec scs.Codec, max int, ttl time.Duration) *cachedSessions {
	return &cachedSessions{db: db, codec: codec, max: max, ttl: ttl, now: time.Now,
		entries: map[string]cachedSession{}, tokens: map[string]sessionToken{}, purgeAt: max}
}

// storeSessions is the cache in front of store's sessions table (expired rows deleted every
// cleanup, 0: never), holding up to max sessions, with the store's ttl and update.
func storeSessions(store *models.Store, cleanup time.Duration, codec scs.Codec, max int) *cachedSessions {
	s := newCachedSessions(store.SessionStore(cleanup), codec, max, store.SessionCacheTTL())
	s.update = store.SessionUpdater()
	return s
}

func (s *cachedSessions) Find(token string) ([]byte, bool, error) {
	now := s.now()
	s.mu.Lock()
	if s.tokens[token].ended {
		s.mu.Unlock()
		return nil, false, nil
	}
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
	if !s.put(token, b, deadline, now) { // as old as the read's start
		return nil, false, nil // deleted while it was read
	}
	return b, true, nil
}

func (s *cachedSessions) Commit(token string, b []byte, expiry time.Time) error {
	// Drop first: a failed write must not leave the cache ahead of the table.
	s.mu.Lock()
	delete(s.entries, token)
	t, seen := s.tokens[token]
	s.mu.Unlock()
	if t.ended {
		return nil // logged out while the request that commits it ran: it stays ended
	}
	now := s.now()
	if seen && s.update != nil {
		// A session in the table: rewritten only while it is there. Gone means another
		// node ended it; it stays ended (the cookie finds nothing at its next request).
		if ok, err := s.update(token, b, expiry); err != nil || !ok {
			return err
		}
	} else if err := s.db.Commit(token, b, expiry); err != nil {
		return err
	}
	if !s.put(token, b, expiry, now) {
		// Ended while this was written, by a Delete that may have reached the table first.
		return s.db.Delete(token)
	}
	return nil
}

// Delete ends the session: in the table, and here for good (a tombstone). A token never seen
// here, or expired, needs no tombstone: no request of this process holds its live session.
func (s *cachedSessions) Delete(token string) error {
	s.mu.Lock()
	delete(s.entries, token)
	t, seen := s.tokens[token]
	if seen {
		s.tokens[token] = sessionToken{expiry: t.expiry, ended: true}
	}
	s.mu.Unlock()
	err := s.db.Delete(token)
	if err != nil && seen {
		s.mu.Lock()
		s.tokens[token] = t // still in the table, so still a session (the logout can be tried again)
		s.mu.Unlock()
	}
	return err
}

// put keeps token's data b, read or written at now, until its session's expiry or for ttl, and
// the token itself until that expiry. It reports false, keeping nothing, for an ended session.
func (s *cachedSessions) put(token string, b []byte, expiry, now time.Time) bool {
	e := cachedSession{data: b, expiry: expiry}
	if s.ttl > 0 && e.expiry.After(now.Add(s.ttl)) {
		e.expiry = now.Add(s.ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[token]
	if t.ended {
		return false
	}
	if len(s.tokens) >= s.purgeAt {
		s.purge(now)
	}
	if expiry.After(t.expiry) {
		s.tokens[token] = sessionToken{expiry: expiry}
	}
	if len(s.entries) >= s.max {
		for k, v := range s.entries {
			if !now.Before(v.expiry) {
				delete(s.entries, k)
			}
		}
		for k := range s.entries { // still full: drop arbitrary ones' data, the table has it
			if len(s.entries) < s.max {
				break
			}
			delete(s.entries, k)
		}
	}
	s.entries[token] = e
	return true
}

// purge forgets the tokens whose sessions have expired, and sets the next purge at twice the
// number left, so that purging costs a constant per token kept.
func (s *cachedSessions) purge(now time.Time) {
	for k, t := range s.tokens {
		if !now.Before(t.expiry) {
			delete(s.tokens, k)
			delete(s.entries, k)
		}
	}
	s.purgeAt = max(2*len(s.tokens), s.max)
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
