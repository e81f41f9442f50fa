package models

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"callrec/internal/pgtest"
)

// TestCopyDB moves the SQLite installation of the upgrade test (a database made by the
// single-machine release, then migrated) to a new PostgreSQL database: every table with its
// count, logins, bookings, listings and sessions work there, new rows get ids past the copied
// ones, and a second copy into the now filled database is refused without touching it.
func TestCopyDB(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "callrec.db")
	loadDump(t, path, "testdata/main-schema.sql")
	from, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	to, err := Open(pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer to.Close()
	var seen []string
	rep, err := CopyDB(ctx, from, to, func(c TableCount) { seen = append(seen, c.Table) })
	if err != nil {
		t.Fatal(err)
	}
	counts := rowCounts(t, path)
	delete(counts, "folder_stats")
	if len(rep.Tables) != len(counts) || len(seen) != len(counts) {
		t.Fatalf("copied %+v, the source has %v", rep.Tables, counts)
	}
	for _, c := range rep.Tables {
		if counts[c.Table] != c.Rows {
			t.Errorf("%s: %d rows copied, %d in the source", c.Table, c.Rows, counts[c.Table])
		}
	}
	// Parents before children: users after customers, call events after calls.
	pos := map[string]int{}
	for i, c := range rep.Tables {
		pos[c.Table] = i
	}
	if pos["users"] < pos["customers"] || pos["call_events"] < pos["calls"] || pos["recordings"] < pos["calls"] {
		t.Fatalf("order %v", seen)
	}

	if _, err := to.Authenticate(ctx, "admin", "admin-password-1"); err != nil {
		t.Fatal("admin login on the copy:", err)
	}
	admin, err := to.UserByName(ctx, "demo-admin")
	if err != nil {
		t.Fatal(err)
	}
	a := ActorOf(admin)
	page, err := to.Browse(ctx, a, BrowseQuery{Folder: "call_recording/337826/4971121843140"})
	if err != nil || page.Total != 3 || len(page.Files) != 3 || page.Files[0].CallAt == nil {
		t.Fatalf("browse on the copy: %+v %v", page, err)
	}
	want, _ := from.Browse(ctx, a, BrowseQuery{Folder: "call_recording/337826/4971121843140"})
	for i := range want.Files {
		w, g := want.Files[i], page.Files[i]
		if w.ID != g.ID || w.Name != g.Name || !w.CallAt.Equal(*g.CallAt) || w.Size != g.Size || w.A != g.A {
			t.Fatalf("file %d: %+v, source %+v", i, g, w)
		}
	}
	ps, _ := to.Pools(ctx, a)
	if cr, err := to.CallRecordingOf(ctx, a, ps[0].ID); err != nil || !cr.Booked() || len(cr.Announcements) != 3 {
		t.Fatalf("booking on the copy: %+v %v", cr, err)
	}
	log, err := to.Calls(ctx, a, CallFilter{})
	if err != nil || log.Total != 3 || len(log.Calls[0].Events) != 2 || log.Calls[0].Recording == nil {
		t.Fatalf("call log on the copy: %+v %v", log, err)
	}
	if b, found, err := to.SessionStore(time.Hour).Find("fixturetoken"); err != nil || !found || len(b) != 1 {
		t.Fatalf("session on the copy: %v %v %v", b, found, err)
	}
	if _, err := to.AuditEvents(ctx, a, AuditFilter{}, 1, 0); err != nil {
		t.Fatal(err)
	}
	// The sequences are past the copied ids.
	root := Actor{Role: RolePlatformAdmin}
	c, err := to.CreateCustomer(ctx, root, CustomerInput{Name: "New", SubscriberID: "424242", Language: "en"})
	if err != nil || c.ID <= 1 {
		t.Fatalf("new customer on the copy: %+v %v", c, err)
	}
	if _, err := to.CreateUser(ctx, root, c.ID, UserInput{Username: "new-admin", Password: "new-password-1", Role: RoleCustomerAdmin}); err != nil {
		t.Fatal(err)
	}

	if _, err := CopyDB(ctx, from, to, nil); !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("copy into a filled database: %v", err)
	}
	var n int64
	to.db.Model(&Customer{}).Count(&n)
	if n != 2 {
		t.Fatalf("the refused copy changed the target: %d customers", n)
	}
}

// TestConvertValue covers the conversions between SQLite's and PostgreSQL's value kinds both ways.
func TestConvertValue(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 26, 53, 123456000, time.UTC)
	cases := []struct {
		v        any
		from, to string
		want     any
	}{
		{int64(1), "bool", "bool", true},
		{int64(0), "bool", "bool", false},
		{true, "bool", "int", int64(1)},
		{"2026-03-14 09:26:53.123456+00:00", "time", "time", at},
		{at, "time", "time", at},
		{2461113.893669, "real", "time", time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)},
		{[]byte("x"), "text", "text", "x"},
		{"x", "text", "bytes", []byte("x")},
		{nil, "int", "int", nil},
	}
	for _, c := range cases {
		got, err := convertValue(c.v, c.from, c.to)
		if err != nil {
			t.Errorf("%v %s->%s: %v", c.v, c.from, c.to, err)
			continue
		}
		switch w := c.want.(type) {
		case time.Time:
			if g, ok := got.(time.Time); !ok || g.Sub(w).Abs() > 100*time.Millisecond {
				t.Errorf("%v %s->%s = %v, want %v", c.v, c.from, c.to, got, w)
			}
		case []byte:
			if g, ok := got.([]byte); !ok || string(g) != string(w) {
				t.Errorf("%v = %v", c.v, got)
			}
		default:
			if got != c.want {
				t.Errorf("%v %s->%s = %v (%T), want %v", c.v, c.from, c.to, got, got, c.want)
			}
		}
	}
	if _, err := convertValue("garbage", "text", "time"); err == nil {
		t.Error("garbage became a time")
	}
	if _, err := convertValue(1e300, "real", "time"); err == nil {
		t.Error("an impossible Julian day became a time")
	}
}
