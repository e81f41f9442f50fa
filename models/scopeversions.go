package models

import (
	"context"
	"database/sql"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// scopeVersions keeps, on PostgreSQL, what scopeStats reads (a scope's exact number of files and
// its version) so that a File Browser page answered from the listing cache makes no round trip
// to the database server. The version is what a kept listing is checked against (listCache);
// on a server shared by many processes and cores, that one round trip was most of a kept page's
// time under load (BENCHMARKS.md, "File Browser on PostgreSQL").
//
// The rule, here and nowhere else: a scope's stats are kept from when they were read until
//   - a notification for its customer arrives: every transaction that changes files, whichever
//     process commits it, notifies filesChannel with the customers whose files it changed (the
//     files triggers since migration 9), and PostgreSQL delivers it when it commits;
//   - this process commits a write to files, before the writer gets the commit's answer back
//     (notingPool: GORM's statements and transactions; CreateFileRows): its own writes show
//     at once, whatever the notification's delay;
//   - the listening connection is lost (nothing is kept until it listens again), or
//     scopeVersionsTTL has passed (which bounds what a listener that died without a word could
//     leave stale).
//
// A read that overlapped any of these is not kept. So another process's write shows here when
// its notification arrives (milliseconds), this process's at once. A request right after its
// user's own write, which may have gone to another node, asks for its scope fresh
// (BrowseQuery.Fresh: the web package's "wrote" cookie), so a user sees their own writes at
// once on every node. SQLite keeps nothing here:
// its scopeStats is a call into the same process, and other processes' writes (the CLI) must
// show at once.
type scopeVersions struct {
	mu         sync.Mutex
	live       bool   // the dialect's watch listens: only then is anything kept
	gen        uint64 // moves with every drop: a read that overlapped one is not kept
	byCustomer map[uint]map[string]scopeStat
	n          int
	// For tests: ttl (0: scopeVersionsTTL), deaf (notifications are not heard and entries do
	// not expire: only this process's own writes drop what is kept), and counts of scopes read from the database
	// and of notifications heard.
	ttl   time.Duration
	deaf  atomic.Bool
	reads atomic.Int64
	heard atomic.Int64
}

// scopeStat is a scope's stats as read.
type scopeStat struct {
	files, version int64
	until          time.Time
}

const (
	scopeVersionsTTL = time.Second
	scopeVersionsMax = 100_000 // scopes; beyond, it starts over
)

// filesChannel is the NOTIFY channel of writes to files; the payload is a customer's id.
const filesChannel = "callrec_files"

// stats answers customer's scope folder ("": all its recordings; customer 0: every customer's)
// from what is kept, else from read (and keeps the answer, when it may).
func (v *scopeVersions) stats(customer uint, folder string, read func() (files, version int64, err error)) (int64, int64, error) {
	now := time.Now()
	v.mu.Lock()
	if st, ok := v.byCustomer[customer][folder]; ok && (now.Before(st.until) || v.deaf.Load()) {
		v.mu.Unlock()
		return st.files, st.version, nil
	}
	live, gen := v.live, v.gen
	v.mu.Unlock()
	v.reads.Add(1)
	files, version, err := read()
	if err != nil || !live {
		return files, version, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.gen != gen || !v.live {
		return files, version, nil
	}
	if v.n >= scopeVersionsMax {
		v.byCustomer, v.n = nil, 0
	}
	if v.byCustomer == nil {
		v.byCustomer = map[uint]map[string]scopeStat{}
	}
	m := v.byCustomer[customer]
	if m == nil {
		m = map[string]scopeStat{}
		v.byCustomer[customer] = m
	}
	if _, ok := m[folder]; !ok {
		v.n++
	}
	ttl := v.ttl
	if ttl == 0 {
		ttl = scopeVersionsTTL
	}
	m[folder] = scopeStat{files: files, version: version, until: now.Add(ttl)}
	return files, version, nil
}

// fresh is stats read from the database, kept for the next request.
func (v *scopeVersions) fresh(customer uint, folder string, read func() (files, version int64, err error)) (int64, int64, error) {
	v.mu.Lock()
	if _, ok := v.byCustomer[customer][folder]; ok {
		delete(v.byCustomer[customer], folder)
		v.n--
	}
	v.mu.Unlock()
	return v.stats(customer, folder, read)
}

// changed drops what is kept of customer's scopes, and of every customer's recordings.
func (v *scopeVersions) changed(customer uint) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	v.n -= len(v.byCustomer[customer]) + len(v.byCustomer[0])
	delete(v.byCustomer, customer)
	delete(v.byCustomer, 0)
}

// dropAll drops everything kept.
func (v *scopeVersions) dropAll() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	v.byCustomer, v.n = nil, 0
}

// listening says whether the watch listens from now on; what was kept is dropped either way
// (notifications sent while it did not listen are lost).
func (v *scopeVersions) listening(live bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	v.live = live
	v.byCustomer, v.n = nil, 0
}

// notified is one notification of filesChannel.
func (v *scopeVersions) notified(payload string) {
	if v.deaf.Load() {
		return
	}
	defer v.heard.Add(1)
	id, err := strconv.ParseUint(payload, 10, 64)
	if err != nil {
		v.dropAll()
		return
	}
	v.changed(uint(id))
}

// watch makes db's writes to files drop what v keeps once they have committed: db's pool
// becomes a notingPool, and a callback notes each write statement on files (or a raw statement,
// which may write anything): at once when its own transaction has committed, at the commit of
// the explicit transaction it runs in otherwise.
func (v *scopeVersions) watch(db *gorm.DB, sqlDB *sql.DB) error {
	p := notingPool{DB: sqlDB, v: v}
	db.Config.ConnPool = p
	db.Statement.ConnPool = p
	note := func(db *gorm.DB) {
		if t := db.Statement.Table; t != "" && t != "files" {
			return
		}
		if tx, ok := db.Statement.ConnPool.(*notingTx); ok && tx.noteWrite() {
			return // dropped at its commit
		}
		v.dropAll()
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("*").Register("callrec:scope_versions", note),
		cb.Update().After("*").Register("callrec:scope_versions", note),
		cb.Delete().After("*").Register("callrec:scope_versions", note),
		cb.Raw().After("*").Register("callrec:scope_versions", note),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// notingPool is the database/sql pool as GORM uses it, with transactions that tell the scope
// versions when one that wrote files has committed.
type notingPool struct {
	*sql.DB
	v *scopeVersions
}

func (p notingPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	tx, err := p.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &notingTx{Tx: tx, db: p.DB, v: p.v}, nil
}

// GetDBConn is the pool (gorm.DB.DB).
func (p notingPool) GetDBConn() (*sql.DB, error) { return p.DB, nil }

type notingTx struct {
	*sql.Tx
	db    *sql.DB
	v     *scopeVersions
	mu    sync.Mutex
	wrote bool // a statement wrote files
	ended bool // committed or rolled back
}

// noteWrite notes that a statement of the transaction wrote files; false when the transaction
// has ended already (GORM's own transaction of a single statement).
func (t *notingTx) noteWrite() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return false
	}
	t.wrote = true
	return true
}

func (t *notingTx) Commit() error {
	err := t.Tx.Commit()
	t.mu.Lock()
	wrote := t.wrote
	t.ended = true
	t.mu.Unlock()
	if wrote {
		t.v.dropAll()
	}
	return err
}

func (t *notingTx) Rollback() error {
	t.mu.Lock()
	t.ended = true
	t.mu.Unlock()
	return t.Tx.Rollback()
}

// GetDBConn is the pool the transaction came from (gorm.DB.DB).
func (t *notingTx) GetDBConn() (*sql.DB, error) { return t.db, nil }

// HoldFileNotices is for tests of what a user sees right after a write on another node: until
// release is called this store does not hear other processes' writes to files, and what it
// keeps does not expire (as if the notification were slow to come).
func (s *Store) HoldFileNotices() (release func()) {
	s.versions.deaf.Store(true)
	return func() { s.versions.deaf.Store(false) }
}
