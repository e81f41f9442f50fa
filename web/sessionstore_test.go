package web

import (
	"errors"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
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
	c := newCachedSessions(db, codec, 2)
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
	other := newCachedSessions(db, codec, 2)
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
