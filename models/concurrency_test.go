package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These are the rules SQLite's single writer made true by itself; on PostgreSQL transactions
// run side by side. Each test runs on both databases; "another process" is a second Store on
// the same database (its own connections, caches and listener).

// secondStore opens another Store on s's database.
func secondStore(t *testing.T, s *Store) *Store {
	t.Helper()
	o, err := Open(s.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	o.Now, o.DefaultAnnouncements = s.Now, s.DefaultAnnouncements
	return o
}

// TestNumbersUniqueUnderConcurrentSaves: many pools of two processes claim overlapping numbers
// at once; every number ends in exactly one pool, each refused save says number_taken, and a
// pool saved again concurrently with its own numbers never refuses itself.
func TestNumbersUniqueUnderConcurrentSaves(t *testing.T) {
	s := openTestStore(t)
	o := secondStore(t, s)
	ctx := context.Background()
	root := Actor{Role: RolePlatformAdmin}
	var customers []Customer
	for i := range 2 {
		c, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "C", SubscriberID: fmt.Sprint(1000 + i), Language: "de"})
		if err != nil {
			t.Fatal(err)
		}
		customers = append(customers, c)
	}
	const workers = 12
	var wg sync.WaitGroup
	var created, refused atomic.Int32
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			st := []*Store{s, o}[w%2]
			// Worker w claims 49711000w0..49711000w9 and its neighbour's first five.
			var nums []string
			for k := range 10 {
				nums = append(nums, fmt.Sprintf("4971100%02d%d", w, k))
			}
			for k := range 5 {
				nums = append(nums, fmt.Sprintf("4971100%02d%d", (w+1)%workers, k))
			}
			_, err := st.CreatePool(ctx, root, customers[w%2].ID, PoolInput{Name: "P", StartNumber: nums[0], Destination: "4915258878874", Numbers: nums})
			var ve ValidationError
			switch {
			case err == nil:
				created.Add(1)
			// Neighbours belong to the other customer: the numbers of the one saved first
			// are that customer's range then.
			case errors.As(err, &ve) && (ve.Field("numbers") == ErrNumberTaken.Key || ve.Field("numbers") == ErrNumberOtherCustomer.Key):
				refused.Add(1)
			default:
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var dup int64
	if err := s.db.Raw("SELECT count(*) FROM (SELECT number FROM pool_numbers GROUP BY number HAVING count(*) > 1) AS d").Scan(&dup).Error; err != nil || dup != 0 {
		t.Fatalf("%d numbers in two pools (%v)", dup, err)
	}
	ranges, err := s.NumberRanges(ctx, root, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range ranges {
		for _, o := range ranges[i+1:] {
			if r.Overlaps(o) {
				t.Fatalf("ranges %v (customer %d) and %v (customer %d) overlap", r, r.CustomerID, o, o.CustomerID)
			}
		}
	}
	var pools int64
	s.db.Model(&Pool{}).Count(&pools)
	if created.Load() == 0 || created.Load()+refused.Load() != workers || pools != int64(created.Load()) {
		t.Fatalf("%d created, %d refused, %d pools", created.Load(), refused.Load(), pools)
	}
	// One pool saved by both processes at once, with its own numbers: never "taken".
	ps, _ := s.Pools(ctx, root)
	p := ps[0]
	var wg2 sync.WaitGroup
	for i := range 8 {
		wg2.Go(func() {
			st := []*Store{s, o}[i%2]
			if _, err := st.UpdatePool(ctx, root, p.ID, PoolInput{Name: fmt.Sprint("P", i), StartNumber: p.StartNumber,
				Destination: p.Destination, Numbers: p.NumberList()}); err != nil {
				t.Errorf("saving pool %d again: %v", p.ID, err)
			}
		})
	}
	wg2.Wait()
	if got, _ := s.Pool(ctx, root, p.ID); !slices.Equal(got.NumberList(), p.NumberList()) {
		t.Fatalf("numbers after concurrent saves: %v, want %v", got.NumberList(), p.NumberList())
	}
}

// TestBookingsAndAuditUnderConcurrency: two processes book and cancel one pool's module at
// once, many times: at most one booking is in force at any time (the unique index would refuse
// a second), and every booking and cancellation has exactly its own audit event.
func TestBookingsAndAuditUnderConcurrency(t *testing.T) {
	f := newBookingFixture(t)
	o := secondStore(t, f.s)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			st := []*Store{f.s, o}[w%2]
			for i := range 6 {
				var err error
				if (w+i)%3 == 2 {
					_, err = st.CancelCallRecording(ctx, f.admin, f.pool.ID, "192.0.2.1")
				} else {
					_, _, err = st.BookCallRecording(ctx, f.admin, f.pool.ID, BookingInput{Accepted: true, Notice: notice})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var bookings, cancelled, active int64
	f.s.db.Model(&ModuleBooking{}).Where("pool_id = ?", f.pool.ID).Count(&bookings)
	f.s.db.Model(&ModuleBooking{}).Where("pool_id = ? AND cancelled_at IS NOT NULL", f.pool.ID).Count(&cancelled)
	f.s.db.Model(&ModuleBooking{}).Where("pool_id = ? AND cancelled_at IS NULL", f.pool.ID).Count(&active)
	created, _ := f.s.AuditEvents(ctx, f.admin, AuditFilter{Kind: "booking.created"}, 1, 0)
	cancels, _ := f.s.AuditEvents(ctx, f.admin, AuditFilter{Kind: "booking.cancelled"}, 1, 0)
	if bookings == 0 || active > 1 || created.Total != bookings || cancels.Total != cancelled || bookings-cancelled != active {
		t.Fatalf("%d bookings (%d cancelled, %d in force), %d created and %d cancelled events", bookings, cancelled, active, created.Total, cancels.Total)
	}
	var settings, slots int64
	f.s.db.Model(&CallRecordingSettings{}).Where("pool_id = ?", f.pool.ID).Count(&settings)
	f.s.db.Model(&Announcement{}).Where("pool_id = ?", f.pool.ID).Count(&slots)
	if settings != 1 || slots != 3 {
		t.Fatalf("%d settings rows, %d announcement slots", settings, slots)
	}
}

// TestAuditInTheSameTransaction: when the audit event cannot be written, the change it records
// is not made either (booking, cancellation, settings, deletion), on both databases.
func TestAuditInTheSameTransaction(t *testing.T) {
	f := newBookingFixture(t)
	ctx := context.Background()
	if _, _, err := f.s.BookCallRecording(ctx, f.admin, f.pool.ID, BookingInput{Accepted: true, Notice: notice}); err != nil {
		t.Fatal(err)
	}
	// A trigger that refuses every audit event from now on.
	var stmts []string
	if f.s.Backend() == "postgres" {
		stmts = []string{`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$`,
			`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()`}
	} else {
		stmts = []string{`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit refused'); END`}
	}
	for _, q := range stmts {
		if err := f.s.db.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	refused := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "audit refused") {
			t.Fatalf("%s without its audit event: %v", what, err)
		}
	}
	_, err := f.s.CancelCallRecording(ctx, f.admin, f.pool.ID, "")
	refused("cancellation", err)
	if cr, _ := f.s.CallRecordingOf(ctx, f.admin, f.pool.ID); !cr.Booked() {
		t.Fatal("cancelled although its audit event failed")
	}
	days := 30
	_, err = f.s.UpdateCallRecordingSettings(ctx, f.admin, f.pool.ID, SettingsPatch{RetentionDays: &days})
	refused("settings change", err)
	if cr, _ := f.s.CallRecordingOf(ctx, f.admin, f.pool.ID); cr.Settings.RetentionDays == 30 {
		t.Fatal("settings changed although the audit event failed")
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	file := File{CustomerID: f.customer.ID, Folder: "call_recording/337826/4971121843140", Name: "r.wav",
		Path: "call_recording/337826/4971121843140/r.wav", Kind: KindRecording, CallAt: &at, PoolID: f.pool.ID}
	if err := f.s.CreateFileRow(ctx, &file); err != nil {
		t.Fatal(err)
	}
	removed := false
	_, err = f.s.DeleteRecordings(ctx, f.admin, "", []uint{file.ID}, func(string) error { removed = true; return nil })
	refused("deletion", err)
	if _, err := f.s.FileByID(ctx, f.admin, file.ID); err != nil || removed {
		t.Fatalf("deleted although the audit event failed: %v, file removed %v", err, removed)
	}
}

// TestListingsAcrossProcesses: while two processes write one folder (renames, new files,
// deletes) and readers on both list it through their listing caches, every write a process has
// committed is in the very next listing it gives (by name, by date and filtered by number), and
// in the other process's: at once on SQLite, on PostgreSQL as soon as the write's notification
// has arrived there (scopeVersions; within 5 s here, the delays logged); every listing is in
// order.
func TestListingsAcrossProcesses(t *testing.T) {
	f := newBrowseFixture(t, 200)
	o := secondStore(t, f.s)
	ctx := context.Background()
	stores := []*Store{f.s, o}
	q := BrowseQuery{Folder: f.folder, Sort: "name", Limit: 30, Brief: true}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	errs := make(chan error, 64)
	for r := range 6 {
		readers.Go(func() { // keep both caches busy with the same listing
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, err := stores[r%2].Browse(ctx, f.admin, q)
				if err != nil {
					errs <- err
					return
				}
				if !slices.IsSortedFunc(p.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) }) {
					errs <- fmt.Errorf("a listing out of order: %v", ids(p.Files))
					return
				}
			}
		})
	}
	// listed waits until st's listing of q satisfies ok: at once for the writer and on SQLite,
	// else until the notification of the write has arrived.
	var slowest atomic.Int64
	listed := func(st, writer *Store, q BrowseQuery, ok func(BrowsePage) bool) (BrowsePage, bool, error) {
		start := time.Now()
		for {
			p, err := st.Browse(ctx, f.admin, q)
			if err != nil || ok(p) {
				if d := int64(time.Since(start)); d > slowest.Load() {
					slowest.Store(d)
				}
				return p, err == nil, err
			}
			if st == writer || st.Backend() == "sqlite" || time.Since(start) > 5*time.Second {
				return p, false, nil
			}
			time.Sleep(time.Millisecond)
		}
	}
	var writers sync.WaitGroup
	for w := range 2 {
		writers.Go(func() {
			writer, reader := stores[w], stores[1-w]
			for i := range 25 {
				// Renamed to sort first: the next listing of either process must begin with it.
				name := fmt.Sprintf("aaa_%d_%03d.wav", w, 999-i)
				id := uint(1 + w*100 + i)
				if err := writer.db.WithContext(ctx).Model(&File{}).Where("id = ?", id).
					Updates(map[string]any{"name": name, "path": f.folder + "/" + name}).Error; err != nil {
					errs <- err
					return
				}
				for _, st := range []*Store{writer, reader} {
					p, ok, err := listed(st, writer, q, func(p BrowsePage) bool {
						return slices.ContainsFunc(p.Files, func(x File) bool { return x.ID == id && x.Name == name })
					})
					if err != nil {
						errs <- err
						return
					}
					if !ok {
						errs <- fmt.Errorf("writer %d, rename %d: a listing after the commit lacks it (writer's own %v): %v", w, i, st == writer, ids(p.Files))
						return
					}
				}
				// A file added and one deleted: the other process's next listings have the one
				// and lack the other (the added files are the newest: first by date).
				at := time.Date(2026, 2, 1, 0, 0, i, 0, time.UTC)
				add := File{CustomerID: f.admin.CustomerID, Folder: f.folder, Name: fmt.Sprintf("aab_%d_%03d.wav", w, i),
					Path: fmt.Sprintf("%s/aab_%d_%03d.wav", f.folder, w, i), Kind: KindRecording, CallAt: &at, PoolID: f.pool.ID}
				if err := writer.CreateFileRow(ctx, &add); err != nil {
					errs <- err
					return
				}
				gone := uint(150 + w*25 + i)
				if err := writer.DeleteFileRow(ctx, gone); err != nil {
					errs <- err
					return
				}
				_, ok, err := listed(reader, writer, BrowseQuery{Folder: f.folder, Sort: "date", Desc: true, Limit: 60}, func(p BrowsePage) bool {
					return slices.ContainsFunc(p.Files, func(x File) bool { return x.ID == add.ID })
				})
				if err != nil || !ok {
					errs <- fmt.Errorf("writer %d: the other process's listing lacks the file just added (%v)", w, err)
					return
				}
				caller := fmt.Sprintf("4917%07d", (gone-1)%50) // the deleted file's caller: 4 files had it
				_, ok, err = listed(reader, writer, BrowseQuery{Folder: f.folder, Number: caller, Limit: 50}, func(p BrowsePage) bool {
					return !slices.ContainsFunc(p.Files, func(x File) bool { return x.ID == gone })
				})
				if err != nil || !ok {
					errs <- fmt.Errorf("writer %d: the other process still lists the file just deleted (%v)", w, err)
					return
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("the slowest listing to show a write: %v", time.Duration(slowest.Load()))
	// At rest both processes list exactly what the database holds.
	var n int64
	f.s.db.Model(&File{}).Where("folder = ?", f.folder).Count(&n)
	for i, st := range stores {
		p, err := st.Browse(ctx, f.admin, BrowseQuery{Folder: f.folder, Sort: "name", Limit: 500})
		if err != nil || p.Total != n || int64(len(p.Files)) != n {
			t.Fatalf("process %d at rest: total %d, %d files, database %d (%v)", i, p.Total, len(p.Files), n, err)
		}
	}
}

// TestReadCacheHearsOtherProcesses: on PostgreSQL another process's change to a user reaches
// this process's read cache by notification, without waiting for the cache's TTL (lengthened
// here to an hour to show it).
func TestReadCacheHearsOtherProcesses(t *testing.T) {
	s := openTestStore(t)
	if s.Backend() != "postgres" {
		t.Skip("SQLite has no notifications: its read cache follows other processes within readCacheTTL")
	}
	s.cache.ttl = time.Hour
	ctx := context.Background()
	root := Actor{Role: RolePlatformAdmin}
	c, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "A", SubscriberID: "1", Language: "de"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, root, c.ID, UserInput{Username: "agent1", Password: "a-long-password", Role: RoleAgent})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByID(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	o := secondStore(t, s)
	if _, err := o.UpdateUser(ctx, root, u.ID, UserInput{Role: RoleAgent, Disabled: true}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := s.UserByID(ctx, u.ID); errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a user another process disabled is still in the read cache")
		}
	}
}
