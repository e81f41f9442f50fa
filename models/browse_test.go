package models

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"callrec/internal/storetest"

	"github.com/mattn/go-sqlite3"
)

type browseFixture struct {
	s            *Store
	admin, agent Actor
	other, root  Actor
	folder       string
	pool         Pool
}

func newBrowseFixture(t *testing.T, n int) *browseFixture {
	t.Helper()
	ctx := context.Background()
	s, err := Open(storetest.DSN(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	root := Actor{Role: RolePlatformAdmin}
	c, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "A", SubscriberID: "337826", Language: "de"})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "B", SubscriberID: "999001", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePool(ctx, root, c.ID, PoolInput{Name: "P", StartNumber: "4971121843140", Destination: "4915258878874", Numbers: []string{"49711218431431"}})
	if err != nil {
		t.Fatal(err)
	}
	f := &browseFixture{s: s, root: root, pool: p, folder: "call_recording/337826/4971121843140",
		admin: Actor{UserID: 1, Username: "a", CustomerID: c.ID, Role: RoleCustomerAdmin},
		agent: Actor{UserID: 2, Username: "g", CustomerID: c.ID, Role: RoleAgent},
		other: Actor{UserID: 3, Username: "o", CustomerID: oc.ID, Role: RoleCustomerAdmin}}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]File, n)
	for i := range rows {
		at := base.Add(time.Duration(i%997) * time.Minute) // many equal times: ties resolved by id
		a := fmt.Sprintf("4917%07d", i%50)
		rows[i] = File{CustomerID: c.ID, Folder: f.folder, Name: fmt.Sprintf("rec_%06d.wav", i), Path: fmt.Sprintf("%s/rec_%06d.wav", f.folder, i),
			Kind: KindRecording, Size: int64(1000 + i%13), DurationMS: int64(i % 31), CallAt: &at, A: a, B: "49711218431431", C: "4915258878874", PoolID: p.ID}
	}
	if err := s.CreateFileRows(ctx, rows); err != nil {
		t.Fatal(err)
	}
	other := File{CustomerID: oc.ID, Folder: "call_recording/999001/4930555000", Name: "rec_x.wav", Path: "call_recording/999001/4930555000/rec_x.wav", Kind: KindRecording, CallAt: &base}
	if err := s.CreateFileRow(ctx, &other); err != nil {
		t.Fatal(err)
	}
	return f
}

// walk pages through a folder forwards, then backwards from the end, and checks both give
// every file once in the requested order.
func TestBrowseKeysetWalk(t *testing.T) {
	f := newBrowseFixture(t, 1234)
	ctx := context.Background()
	for _, sort := range BrowseSorts {
		for _, desc := range []bool{false, true} {
			q := BrowseQuery{Folder: f.folder, Sort: sort, Desc: desc, Limit: 100, CountLimit: -1}
			var ids []uint
			var pages []BrowsePage
			for {
				p, err := f.s.Browse(ctx, f.admin, q)
				if err != nil {
					t.Fatal(sort, err)
				}
				if p.Total != 1234 {
					t.Fatalf("%s: total %d", sort, p.Total)
				}
				pages = append(pages, p)
				for _, x := range p.Files {
					ids = append(ids, x.ID)
				}
				if p.Next == "" {
					break
				}
				q.Cursor = p.Next
			}
			if len(ids) != 1234 || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 1234 {
				t.Fatalf("%s desc=%v: %d ids", sort, desc, len(ids))
			}
			// The order agrees with the sort value.
			all := make([]File, 0, 1234)
			for _, p := range pages {
				all = append(all, p.Files...)
			}
			for i := 1; i < len(all); i++ {
				a, b := sortValue(all[i-1], sort), sortValue(all[i], sort)
				if sort == "duration" || sort == "size" {
					a, b = fmt.Sprintf("%020s", a), fmt.Sprintf("%020s", b)
				}
				if (!desc && a > b) || (desc && a < b) {
					t.Fatalf("%s desc=%v: out of order at %d: %s then %s", sort, desc, i, a, b)
				}
			}
			// Backwards from the last page gives the same pages.
			q.Cursor = pages[len(pages)-1].Prev
			for i := len(pages) - 2; i >= 0; i-- {
				p, err := f.s.Browse(ctx, f.admin, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Files) != len(pages[i].Files) || p.Files[0].ID != pages[i].Files[0].ID {
					t.Fatalf("%s: back page %d differs", sort, i)
				}
				if (i == 0) != (p.Prev == "") {
					t.Fatalf("%s: page %d prev=%q", sort, i, p.Prev)
				}
				q.Cursor = p.Prev
			}
		}
	}
}

func TestBrowseFiltersAndScope(t *testing.T) {
	f := newBrowseFixture(t, 500)
	ctx := context.Background()
	p, err := f.s.Browse(ctx, f.admin, BrowseQuery{Folder: f.folder, Number: "49170000007"})
	if err != nil || p.Total != 10 {
		t.Fatalf("number filter: %d %v", p.Total, err)
	}
	from := time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC)
	p, _ = f.s.Browse(ctx, f.admin, BrowseQuery{Folder: f.folder, From: from, To: from.Add(5 * time.Minute)})
	if p.Total != 5 {
		t.Fatalf("date filter: %d", p.Total)
	}
	p, _ = f.s.Browse(ctx, f.admin, BrowseQuery{Folder: f.folder, CountLimit: 100})
	if p.Total != 100 || !p.TotalMore {
		t.Fatalf("capped count: %d %v", p.Total, p.TotalMore)
	}
	p, _ = f.s.Browse(ctx, f.admin, BrowseQuery{Folder: f.folder, Number: "+49 17-000"})
	if p.Total != 500 || p.TotalMore {
		t.Fatalf("prefix: %d", p.Total)
	}
	// National form: the customer's numbers are German (its pool starts with 49).
	for _, n := range []string{"0170 000 007", "(0)170000007", "0049 170000007", "+49 (0)170 000007"} {
		for _, q := range []BrowseQuery{{Folder: f.folder, Number: n}, {Number: n}} {
			if p, err := f.s.Browse(ctx, f.admin, q); err != nil || p.Total != 10 {
				t.Fatalf("number %q, folder %q: %d %v", n, q.Folder, p.Total, err)
			}
		}
	}
	p, _ = f.s.Browse(ctx, f.admin, BrowseQuery{PoolID: f.pool.ID, Page: 2, Limit: 100})
	if p.Total != 500 || len(p.Files) != 100 || p.Prev == "" || p.Next == "" {
		t.Fatalf("API list by pool, page 2: %d %d", p.Total, len(p.Files))
	}
	if _, err := f.s.Browse(ctx, f.admin, BrowseQuery{Folder: f.folder, Number: `%`}); err != nil {
		t.Fatal(err)
	}
	// Another customer, an agent, a foreign folder, a bad cursor.
	for name, c := range map[string]struct {
		a Actor
		q BrowseQuery
	}{
		"other's folder":   {f.other, BrowseQuery{Folder: f.folder}},
		"agent":            {f.agent, BrowseQuery{Folder: f.folder}},
		"agent API":        {f.agent, BrowseQuery{}},
		"unknown sub":      {f.admin, BrowseQuery{Folder: "call_recording/123"}},
		"foreign from own": {f.admin, BrowseQuery{Folder: "call_recording/999001/4930555000"}},
	} {
		if _, err := f.s.Browse(ctx, c.a, c.q); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v", name, err)
		}
	}
	p, _ = f.s.Browse(ctx, f.other, BrowseQuery{})
	if p.Total != 1 {
		t.Fatalf("other customer's API list: %d", p.Total)
	}
	if _, err := f.s.Browse(ctx, f.admin, BrowseQuery{Folder: f.folder, Cursor: "xyz"}); !errors.Is(err, ErrBadQuery) {
		t.Fatal(err)
	}
	if _, err := f.s.Browse(ctx, f.admin, BrowseQuery{Folder: f.folder, Sort: "id; drop table files"}); !errors.Is(err, ErrBadQuery) {
		t.Fatal(err)
	}
	subs, err := f.s.SubFolders(ctx, f.admin, "call_recording/337826")
	if err != nil || len(subs) != 1 || subs[0].Path != f.folder {
		t.Fatalf("sub-folders %v %v", subs, err)
	}
	subs, _ = f.s.SubFolders(ctx, f.root, RecordingsRoot)
	if len(subs) != 2 {
		t.Fatalf("platform admin sees %v", subs)
	}
	if subs, _ := f.s.SubFolders(ctx, f.agent, ""); len(subs) != 1 {
		t.Fatalf("agent's root %v", subs)
	}
}

// TestFolderStatsFollowFiles checks the per-folder totals the triggers keep against a count of
// the files table after inserts, size and folder updates and deletes, and that a database from
// before folder_stats gets the table filled when it is opened.
func TestFolderStatsFollowFiles(t *testing.T) {
	ctx := context.Background()
	f := newBrowseFixture(t, 120)
	db := f.s.db.WithContext(ctx)
	check := func(when string) {
		t.Helper()
		type row struct {
			CustomerID uint
			Folder     string
			Kind       string
			Files      int64
			Bytes      int64
		}
		var want, got []row
		if err := db.Raw(`SELECT customer_id, folder, kind, count(*) AS files, COALESCE(sum(size), 0) AS bytes FROM files
			GROUP BY customer_id, folder, kind ORDER BY 1, 2, 3`).Scan(&want).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Raw(`SELECT customer_id, folder, kind, files, bytes FROM folder_stats WHERE files > 0 ORDER BY 1, 2, 3`).Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(want, got) {
			t.Fatalf("%s: folder_stats %+v, files say %+v", when, got, want)
		}
	}
	check("after inserts")
	page, err := f.s.Browse(ctx, f.admin, BrowseQuery{Folder: f.folder})
	if err != nil || page.Total != 120 || page.TotalMore {
		t.Fatalf("total %d (more %v), err %v; want exactly 120", page.Total, page.TotalMore, err)
	}
	if err := db.Exec("UPDATE files SET size = size + 7 WHERE id % 3 = 0").Error; err != nil {
		t.Fatal(err)
	}
	check("after size updates")
	if err := db.Exec("UPDATE files SET folder = 'call_recording/337826/4971121843999' WHERE id % 5 = 0").Error; err != nil {
		t.Fatal(err)
	}
	check("after moves")
	if err := db.Exec("DELETE FROM files WHERE id % 2 = 0").Error; err != nil {
		t.Fatal(err)
	}
	check("after deletes")
	all, err := f.s.Browse(ctx, f.admin, BrowseQuery{})
	var n int64
	db.Raw("SELECT count(*) FROM files WHERE customer_id = ? AND kind = ?", f.admin.CustomerID, KindRecording).Scan(&n)
	if err != nil || all.Total != n {
		t.Fatalf("all recordings: total %d, want %d (err %v)", all.Total, n, err)
	}

	// An older database: no folder_stats, no triggers, no versioned migrations. Migrating it
	// builds both from the files.
	if f.s.Backend() != "sqlite" {
		return // only SQLite databases are older than versioned migrations
	}
	for _, q := range []string{"DROP TRIGGER files_stats_insert", "DROP TRIGGER files_stats_delete", "DROP TRIGGER files_stats_update",
		"DROP TABLE folder_stats", "DROP TABLE schema_migrations", "DROP INDEX idx_booking_in_force"} {
		if err := db.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	check("after migrating an older database")
	if err := db.Exec("DELETE FROM files WHERE id % 7 = 0").Error; err != nil {
		t.Fatal(err)
	}
	check("after deletes on the migrated database")
}

// TestParseDBTime holds the hand-written reader of stored times to what time.Parse makes of the
// driver's layouts, for the form the store writes and for the others.
func TestParseDBTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var inputs []string
	for range 2000 {
		at := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC()
		if rng.IntN(3) == 0 {
			at = at.Truncate(time.Second)
		}
		inputs = append(inputs, at.Format(sqlite3.SQLiteTimestampFormats[0]))
	}
	inputs = append(inputs, "", "2026-02-31 00:00:00+00:00", "2026-13-01 00:00:00+00:00", "2026-01-01 24:00:00+00:00",
		"2026-01-01 00:00:00.+00:00", "2026-01-01 00:00:00.1234567891+00:00", "2026-01-01T10:00:00Z", "2026-01-01 10:00:00",
		"2026-01-01 10:00:00+02:00", "2026-01-01", "2026-01-0x 00:00:00+00:00", "garbage", "2026-01-01 00:00:00.5+00:00")
	for _, in := range inputs {
		got, ok := parseDBTime(in)
		var want time.Time
		wantOK := false
		for _, layout := range sqlite3.SQLiteTimestampFormats {
			if tt, err := time.ParseInLocation(layout, strings.TrimSuffix(in, "Z"), time.UTC); err == nil {
				want, wantOK = tt.UTC(), true
				break
			}
		}
		if ok != wantOK || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseDBTime(%q) = %v, %v; time.Parse says %v, %v", in, got, ok, want, wantOK)
		}
	}
}

// TestBrowseBrief checks that a Brief listing gives the same files, cursors and totals as a full
// one, with every field the list shows equal and the others left zero.
func TestBrowseBrief(t *testing.T) {
	f := newBrowseFixture(t, 130)
	ctx := context.Background()
	for _, q := range []BrowseQuery{{Folder: f.folder}, {Folder: f.folder, Sort: "caller", Number: "49170000003"},
		{Folder: f.folder, Sort: "size", Desc: true, Limit: 20, Page: 3}} {
		full, err := f.s.Browse(ctx, f.admin, q)
		if err != nil {
			t.Fatal(err)
		}
		q.Brief = true
		brief, err := f.s.Browse(ctx, f.admin, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(full.Files) == 0 || len(brief.Files) != len(full.Files) || brief.Next != full.Next || brief.Prev != full.Prev || brief.Total != full.Total {
			t.Fatalf("%+v: brief %d files next %q total %d, full %d next %q total %d", q, len(brief.Files), brief.Next, brief.Total,
				len(full.Files), full.Next, full.Total)
		}
		for i, b := range brief.Files {
			x := full.Files[i]
			want := File{ID: x.ID, Name: x.Name, Size: x.Size, DurationMS: x.DurationMS, CallAt: x.CallAt, A: x.A, B: x.B, C: x.C}
			if b.CallAt == nil || !b.CallAt.Equal(*x.CallAt) {
				t.Fatalf("row %d: call time %v, want %v", i, b.CallAt, x.CallAt)
			}
			b.CallAt = want.CallAt
			if b != want {
				t.Fatalf("row %d: %+v, want %+v", i, b, want)
			}
		}
	}
}

func TestCountryCode(t *testing.T) {
	for number, want := range map[string]string{"4971121843140": "49", "12125550100": "1", "74951234567": "7",
		"33142685300": "33", "351213456789": "351", "8613800138000": "86", "85221234567": "852", "4": "4", "": "",
		"20": "20", "380441234567": "380"} {
		if got := CountryCode(number); got != want {
			t.Errorf("CountryCode(%q) = %q, want %q", number, got, want)
		}
	}
}
