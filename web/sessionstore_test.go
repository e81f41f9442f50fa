package web

import (
	"errors"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"callrec/internal/storetest"
	"callrec/models"
)

// countingStore is a real scs store that counts the reads reaching it.
type countingStore struct {
	*memstore.MemStore
	finds int
	fail  bool
}

func (s *countingStore) Find(token string) ([]byte, bool, error) {
	s.finds++
	return s.MemStore.Find(token)
}

func (s *countingStore) Commit(token string, b []byte, expiry time.Time) error {
	if s.fail {
		return errors.New("disk full")
	}
	return s.MemStore.Commit(token, b, expiry)
}

func TestCachedSessions(t *testing.T) {
	db := &countingStore{MemStore: memstore.NewWithCleanupInterval(0)}
	codec := newCachedCodec(scs.GobCodec{}, 100)
	c := newCachedSessions(db, codec, 2, 0)
	enc := func(deadline time.Time, v string) []byte {
		b, err := codec.Encode(deadline, map[string]any{"v": v})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	later := time.Now().Add(time.Hour)

	// Written through: the next read does not reach the table.
	if err := c.Commit("a", enc(later, "1"), later); err != nil {
		t.Fatal(err)
	}
	if b, ok, _ := c.Find("a"); !ok || string(b) != string(enc(later, "1")) || db.finds != 0 {
		t.Fatalf("find after commit: %v, %d table reads", ok, db.finds)
	}
	// A session this process has not seen is read once, then served from memory.
	other := newCachedSessions(db, codec, 2, 0)
	for range 3 {
		if _, ok, _ := other.Find("a"); !ok {
			t.Fatal("a session in the table was not found")
		}
	}
	if db.finds != 1 {
		t.Fatalf("%d table reads for three finds, want 1", db.finds)
	}
	// Deleted (logout, revocation): gone from both.
	if err := c.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Find("a"); ok {
		t.Fatal("a deleted session was found")
	}
	// Expired in memory: not returned, even though nothing deleted it.
	soon := time.Now().Add(30 * time.Millisecond)
	c.Commit("b", enc(soon, "2"), soon)
	time.Sleep(50 * time.Millisecond)
	if _, ok, _ := c.Find("b"); ok {
		t.Fatal("an expired session was found")
	}
	// A failed write leaves no newer session in memory than in the table.
	c.Commit("c", enc(later, "old"), later)
	db.fail = true
	if err := c.Commit("c", enc(later, "new"), later); err == nil {
		t.Fatal("the failed commit reported success")
	}
	db.fail = false
	if b, ok, _ := c.Find("c"); !ok || string(b) != string(enc(later, "old")) {
		t.Fatalf("after a failed write the cache says %q", b)
	}
	// Over its size, the cache forgets; the table still answers.
	for _, tok := range []string{"d", "e", "f"} {
		c.Commit(tok, enc(later, tok), later)
	}
	if len(c.entries) > 2 {
		t.Fatalf("%d entries in a cache of 2", len(c.entries))
	}
	for _, tok := range []string{"c", "d", "e", "f"} {
		if _, ok, _ := c.Find(tok); !ok {
			t.Fatalf("%s lost", tok)
		}
	}
}

// TestCachedSessionsShared: two processes on one sessions table (two nodes on one PostgreSQL).
// What one writes or deletes, the other's cache answers for at most its ttl, then reads again;
// without a ttl (one process per table) it answers until the session expires.
func TestCachedSessionsShared(t *testing.T) {
	db := &countingStore{MemStore: memstore.NewWithCleanupInterval(0)}
	codec := newCachedCodec(scs.GobCodec{}, 100)
	now := time.Now()
	clock := func() time.Time { return now }
	a := newCachedSessions(db, codec, 10, time.Second)
	b := newCachedSessions(db, codec, 10, time.Second)
	alone := newCachedSessions(db, codec, 10, 0)
	for _, c := range []*cachedSessions{a, b, alone} {
		c.now = clock
	}
	later := now.Add(time.Hour)
	enc := func(v string) []byte {
		d, err := codec.Encode(later, map[string]any{"v": v})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if err := a.Commit("s", enc("1"), later); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*cachedSessions{b, alone} {
		if _, ok, _ := c.Find("s"); !ok {
			t.Fatal("a session in the table was not found")
		}
	}
	finds := db.finds
	now = now.Add(time.Second - time.Millisecond)
	if _, ok, _ := b.Find("s"); !ok || db.finds != finds {
		t.Fatalf("within its ttl: found %v, %d table reads", ok, db.finds-finds)
	}

	// Changed by a: b reads it again once its entry is a ttl old.
	if err := a.Commit("s", enc("2"), later); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Millisecond)
	if got, ok, _ := b.Find("s"); !ok || string(got) != string(enc("2")) {
		t.Fatalf("a ttl after a's change b says %q", got)
	}

	// Deleted by a (a logout): gone for b a ttl later; a process without a ttl still has it.
	if err := a.Delete("s"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if _, ok, _ := b.Find("s"); ok {
		t.Fatal("a ttl after the logout on a, b still finds the session")
	}
	if _, ok, _ := alone.Find("s"); !ok {
		t.Fatal("without a ttl the cache reads the table again (it must not: it is the table's only writer)")
	}
	// Within b's ttl a commit of the session a deleted (a flash, the last-seen time) does not
	// write it back: scs' Commit would insert the row again, and the logout would be undone.
	update := func(tok string, d []byte, exp time.Time) (bool, error) {
		if _, found, _ := db.MemStore.Find(tok); !found {
			return false, nil
		}
		return true, db.MemStore.Commit(tok, d, exp)
	}
	a.update, b.update = update, update
	if err := a.Commit("u", enc("5"), later); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Find("u"); !ok {
		t.Fatal("u not found")
	}
	if err := a.Delete("u"); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit("u", enc("6"), later); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := db.MemStore.Find("u"); found {
		t.Fatal("a commit on b brought back the session a deleted")
	}
	if _, ok, _ := b.Find("u"); ok {
		t.Fatal("b still answers the session a deleted")
	}
	// A session b has never seen (a new login) is written as scs writes it.
	if err := b.Commit("v", enc("7"), later); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := db.MemStore.Find("v"); !found {
		t.Fatal("a new session was not written")
	}

	// Past the expiry it was cached with, an entry is never answered from memory: the table
	// decides (here it was extended meanwhile, so it still has it).
	soon := now.Add(100 * time.Millisecond)
	if err := a.Commit("t", enc("3"), soon); err != nil {
		t.Fatal(err)
	}
	now = soon
	db.MemStore.Commit("t", enc("4"), later)
	if got, ok, _ := a.Find("t"); !ok || string(got) != string(enc("4")) {
		t.Fatalf("after its expiry in memory the cache says %q, not the table's", got)
	}
}

// TestCachedCodec: decoding from memory gives the same values as gob, as a copy that the
// caller may change.
func TestCachedCodec(t *testing.T) {
	codec := newCachedCodec(scs.GobCodec{}, 100)
	deadline := time.Now().Add(time.Hour).Round(0)
	b, err := codec.Encode(deadline, map[string]any{"user_id": int64(7), "csrf": "x"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		d, v, err := codec.Decode(b)
		if err != nil || !d.Equal(deadline) || v["user_id"] != int64(7) || v["csrf"] != "x" {
			t.Fatalf("decode: %v %v %v", d, v, err)
		}
		v["user_id"] = int64(8) // scs changes the map it got
	}
	gd, gv, err := scs.GobCodec{}.Decode(b)
	if err != nil || !gd.Equal(deadline) || gv["user_id"] != int64(7) {
		t.Fatalf("gob: %v %v %v", gd, gv, err)
	}
}

// sessionTable is the sessions table of a new database on the tests' backend (SQLite, or
// PostgreSQL with CALLREC_TEST_DB=postgres), and what another process sees of it: its rows.
func sessionTable(t *testing.T) (*models.Store, scs.Store) {
	t.Helper()
	st, err := models.Open(storetest.DSN(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, st.SessionStore(0)
}

func encodeSession(t *testing.T, codec scs.Codec, deadline time.Time, v string) []byte {
	t.Helper()
	b, err := codec.Encode(deadline, map[string]any{"v": v})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func inTable(t *testing.T, rows scs.Store, token string) bool {
	t.Helper()
	_, found, err := rows.Find(token)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestCachedSessionsForgottenForRoom: a session whose data this process dropped for room is
// still one it read from the table, so its commit is an update: one that another node deleted
// meanwhile (a logout there) does not come back.
func TestCachedSessionsForgottenForRoom(t *testing.T) {
	st, rows := sessionTable(t)
	if st.SessionUpdater() == nil {
		t.Skip("SQLite: this process is the sessions table's only writer; no other deletes a row behind its back")
	}
	codec := newCachedCodec(scs.GobCodec{}, 100)
	a := storeSessions(st, 0, codec, 10)
	b := storeSessions(st, 0, codec, 1) // room for one session's data
	later := time.Now().Add(time.Hour)
	if err := a.Commit("s", encodeSession(t, codec, later, "1"), later); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Find("s"); !ok || err != nil {
		t.Fatalf("b does not find the session a wrote: %v", err)
	}
	// Another user's request on b takes the room.
	if err := b.Commit("other", encodeSession(t, codec, later, "x"), later); err != nil {
		t.Fatal(err)
	}
	if _, held := b.entries["s"]; held {
		t.Fatal("a cache of one still holds s: the test does not drop it for room")
	}
	if err := a.Delete("s"); err != nil { // the logout, on a
		t.Fatal(err)
	}
	// b's request that had loaded s ends and writes it (its flash, the seen stamp).
	if err := b.Commit("s", encodeSession(t, codec, later, "2"), later); err != nil {
		t.Fatal(err)
	}
	if inTable(t, rows, "s") {
		t.Fatal("b's commit of a session it had dropped for room brought back the session a deleted")
	}
	if _, ok, _ := b.Find("s"); ok {
		t.Fatal("b still finds the session a deleted")
	}
	if !inTable(t, rows, "other") {
		t.Fatal("the new session on b was not written")
	}
}
