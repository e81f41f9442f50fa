package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
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

// TestCachedSessionsLogoutStaysEnded: in one process, a request that loaded a session before
// its logout and commits it after (a long download, the live-calls stream, a flash) writes
// nothing: the session stays ended, in memory and in the table. A new token is written as
// ever.
func TestCachedSessionsLogoutStaysEnded(t *testing.T) {
	st, rows := sessionTable(t)
	codec := newCachedCodec(scs.GobCodec{}, 100)
	c := storeSessions(st, 0, codec, 10)
	later := time.Now().Add(time.Hour)
	if err := c.Commit("t", encodeSession(t, codec, later, "1"), later); err != nil { // the login
		t.Fatal(err)
	}
	if _, ok, err := c.Find("t"); !ok || err != nil { // request R loads the session
		t.Fatalf("the session is not found: %v", err)
	}
	if err := c.Delete("t"); err != nil { // request L: the logout
		t.Fatal(err)
	}
	// From here on the cache answers for the ended session itself: it asks the table nothing.
	asked := &askedStore{Store: c.db}
	c.db = asked
	if up := c.update; up != nil {
		c.update = func(token string, b []byte, expiry time.Time) (bool, error) {
			asked.n++
			return up(token, b, expiry)
		}
	}
	if err := c.Commit("t", encodeSession(t, codec, later, "2"), later); err != nil { // R ends
		t.Fatalf("the commit of an ended session: %v", err)
	}
	if inTable(t, rows, "t") {
		t.Fatal("a commit after the logout brought the session back into the table")
	}
	if _, ok, _ := c.Find("t"); ok || asked.n != 0 {
		t.Fatalf("after the logout: found %v, %d requests to the table", ok, asked.n)
	}
	if _, ok, _ := storeSessions(st, 0, codec, 10).Find("t"); ok {
		t.Fatal("another process finds the ended session")
	}
	// The next login's token is new: written and found.
	if err := c.Commit("t2", encodeSession(t, codec, later, "3"), later); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Find("t2"); !ok || !inTable(t, rows, "t2") {
		t.Fatal("a new session after a logout was not kept")
	}
}

// TestCachedSessionsLogoutDuringCommit: the logout lands between a commit's check and its
// write. The session still ends: the commit that finds it ended after its write deletes it
// again.
func TestCachedSessionsLogoutDuringCommit(t *testing.T) {
	st, rows := sessionTable(t)
	codec := newCachedCodec(scs.GobCodec{}, 100)
	c := storeSessions(st, 0, codec, 10)
	later := time.Now().Add(time.Hour)
	if err := c.Commit("t", encodeSession(t, codec, later, "1"), later); err != nil {
		t.Fatal(err)
	}
	logout := func() {
		if err := c.Delete("t"); err != nil {
			t.Error(err)
		}
	}
	c.db = &beforeWrite{Store: c.db, hook: logout}
	if up := c.update; up != nil {
		c.update = func(token string, b []byte, expiry time.Time) (bool, error) {
			logout()
			return up(token, b, expiry)
		}
	}
	if err := c.Commit("t", encodeSession(t, codec, later, "2"), later); err != nil {
		t.Fatal(err)
	}
	if inTable(t, rows, "t") {
		t.Fatal("a commit the logout overtook left the session in the table")
	}
	if _, ok, _ := c.Find("t"); ok {
		t.Fatal("a commit the logout overtook left the session in memory")
	}
}

// askedStore counts the requests that reach the table.
type askedStore struct {
	scs.Store
	n int
}

func (s *askedStore) Find(token string) ([]byte, bool, error) {
	s.n++
	return s.Store.Find(token)
}

func (s *askedStore) Commit(token string, b []byte, expiry time.Time) error {
	s.n++
	return s.Store.Commit(token, b, expiry)
}

// beforeWrite runs hook before each Commit reaches the table.
type beforeWrite struct {
	scs.Store
	hook func()
}

func (s *beforeWrite) Commit(token string, b []byte, expiry time.Time) error {
	s.hook()
	return s.Store.Commit(token, b, expiry)
}

// TestCachedSessionsTombstonesExpire: what a logout leaves is a token, kept only until the
// session could have expired; the next purge forgets it.
func TestCachedSessionsTombstonesExpire(t *testing.T) {
	db := &countingStore{MemStore: memstore.NewWithCleanupInterval(0)}
	codec := newCachedCodec(scs.GobCodec{}, 100)
	c := newCachedSessions(db, codec, 2, 0)
	now := time.Now()
	c.now = func() time.Time { return now }
	soon := now.Add(time.Minute)
	for i := range 10 {
		tok := fmt.Sprint("old", i)
		if err := c.Commit(tok, encodeSession(t, codec, soon, tok), soon); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(tok); err != nil {
			t.Fatal(err)
		}
	}
	now = soon
	later := now.Add(time.Hour)
	for i := range 40 {
		tok := fmt.Sprint("new", i)
		if err := c.Commit(tok, encodeSession(t, codec, later, tok), later); err != nil {
			t.Fatal(err)
		}
	}
	for tok := range c.tokens {
		if strings.HasPrefix(tok, "old") {
			t.Fatalf("the tombstone of %s outlived its session", tok)
		}
	}
	if n := len(c.tokens); n > 2*40 {
		t.Fatalf("%d tokens kept for 40 live sessions", n)
	}
}

// TestLogoutWhileRequestInFlight, through HTTP: a request of the session is under way when the
// same browser logs out (another tab); it ends after the logout and saves the session (here
// its flash). The session must stay ended: the cookie that request's answer sets again finds
// nothing.
func TestLogoutWhileRequestInFlight(t *testing.T) {
	e := newEnv(t)
	// A server of its own on e's store, its session store held at one commit.
	w := New(Config{DataDir: e.dir}, e.store)
	held := &heldCommit{Store: w.sessions.Store, reached: make(chan struct{}), release: make(chan struct{})}
	w.sessions.Store = held
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	on := *e
	on.srv = srv
	c := on.client().login(e.demo.Admin, e.demo.AdminPassword)
	var token string
	for _, k := range c.http.Jar.Cookies(must(url.Parse(srv.URL))) {
		if k.Name == w.sessions.Cookie.Name {
			token = k.Value
		}
	}
	if token == "" {
		t.Fatal("no session cookie after the login")
	}
	held.token.Store(&token)

	// Request R: changes the language, which flashes; its commit waits.
	answered := make(chan int, 1)
	go func() {
		resp, err := c.http.PostForm(srv.URL+"/account/language", url.Values{"_csrf": {c.csrf}, "language": {"en"}})
		if err != nil {
			t.Error(err)
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	select {
	case <-held.reached:
	case st := <-answered:
		t.Fatalf("the language change answered %d without saving its session", st)
	}
	// Request L: the logout, while R is under way.
	if st, _, _ := c.post("/logout", nil); st != http.StatusSeeOther {
		t.Fatalf("logout: %d", st)
	}
	close(held.release)
	if st := <-answered; st != http.StatusSeeOther {
		t.Fatalf("the language change: %d", st)
	}
	if inTable(t, e.store.SessionStore(0), token) {
		t.Fatal("the request that ended after the logout wrote the session back")
	}
	if st, _ := c.get("/account"); st != http.StatusSeeOther {
		t.Fatalf("after the logout the session's cookie still opens /account: %d", st)
	}
}

// heldCommit holds the first commit of token until release.
type heldCommit struct {
	scs.Store
	token   atomic.Pointer[string]
	once    sync.Once
	reached chan struct{}
	release chan struct{}
}

func (s *heldCommit) Commit(token string, b []byte, expiry time.Time) error {
	if p := s.token.Load(); p != nil && *p == token {
		s.once.Do(func() {
			close(s.reached)
			<-s.release
		})
	}
	return s.Store.Commit(token, b, expiry)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
