package enginestore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"callrec/internal/pgtest"
	"callrec/media"
	"callrec/models"
)

// TestDatabaseOutage runs the cases of a PostgreSQL that goes away and comes back on one
// cluster of its own (each case with its own database), which the cases stop and start.
func TestDatabaseOutage(t *testing.T) {
	c := pgtest.New(t)
	for name, run := range map[string]func(*testing.T, fixture, *pgtest.Cluster){
		"sink waits for the database": sinkWaitsForTheDatabase,
		"sink spools at stop":         sinkSpoolsAtStop,
		"route while away":            routeWhileTheDatabaseIsAway,
	} {
		t.Run(name, func(t *testing.T) {
			if err := c.Start(); err != nil { // a case that failed midway may have left it stopped
				t.Fatal(err)
			}
			run(t, outageFixture(t, c), c)
		})
	}
}

// outageFixture is newFixture on a new database of cluster c.
func outageFixture(t *testing.T, c *pgtest.Cluster) fixture {
	t.Helper()
	dir := t.TempDir()
	s, err := models.Open(c.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	d, _, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := s.UserByName(ctx, d.Admin)
	p, err := s.PoolByNumber(ctx, "4971121843140")
	if err != nil {
		t.Fatal(err)
	}
	if err := InstallDefaultPrompts(dir); err != nil {
		t.Fatal(err)
	}
	return fixture{store: s, dir: dir, admin: models.ActorOf(u), pool: p}
}

func testCall(f fixture, id string, ended bool) media.CallInfo {
	arrival := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	c := media.CallInfo{ID: id, CustomerID: f.pool.CustomerID, PoolID: f.pool.ID, SubscriberID: "337826",
		StartNumber: "4971121843140", A: "49711218431440", B: "49711218431431", C: "4915258878874",
		Arrival: arrival, Answered: arrival.Add(time.Second), Bridged: arrival.Add(5 * time.Second),
		State: media.StateConnected, Rec: media.RecRecording, Mode: media.ModeAutomatic,
		Recording: &media.RecordingInfo{Path: "call_recording/337826/4971121843140/" + id + ".wav", Channels: 2, Size: 1044}}
	if ended {
		c.State, c.Rec, c.Outcome, c.Ended = media.StateEnded, media.RecStopped, media.OutcomeCompleted, arrival.Add(65*time.Second)
		c.Recording.Size, c.Recording.Duration = 960044, time.Minute
	}
	return c
}

// checkSaved: every call of ids is in the database in its final state with a complete recording.
func checkSaved(t *testing.T, f fixture, ids []string) {
	t.Helper()
	ctx := context.Background()
	got, err := f.store.CallIDs(ctx, system, ids)
	if err != nil || len(got) != len(ids) {
		t.Fatalf("%d of %d calls saved (%v)", len(got), len(ids), err)
	}
	for _, id := range ids {
		c, err := f.store.CallWithTrail(ctx, system, got[id])
		if err != nil || c.State != "ended" || c.Outcome != "completed" || c.Recording == nil || c.Recording.Status != models.RecordingComplete {
			t.Fatalf("call %s: %+v %v", id, c, err)
		}
	}
}

// sinkWaitsForTheDatabase: with PostgreSQL stopped, the engine's events are taken at once
// (the engine never blocks) and kept; when it is back, every call is saved in its final state
// and the live pages hear of it only then.
func sinkWaitsForTheDatabase(t *testing.T, f fixture, cluster *pgtest.Cluster) {
	l := &live{t: t, store: f.store}
	s := NewSink(nil)
	s.Start(f.store, l)
	ctx := context.Background()
	s.CallChanged(ctx, testCall(f, "before", false)) // saved while the database is up
	cluster.Stop()
	ids := []string{"before"}
	start := time.Now()
	for i := range 50 {
		id := "during-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		ids = append(ids, id)
		s.CallChanged(ctx, testCall(f, id, false))
		s.CallEnded(ctx, testCall(f, id, true))
	}
	s.CallEnded(ctx, testCall(f, "before", true))
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("queueing 101 events took %v with the database away", d)
	}
	time.Sleep(500 * time.Millisecond) // a few failed retries
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	checkSaved(t, f, ids)
	ended := 0
	for _, c := range l.seen {
		if c.State == media.StateEnded {
			ended++
		}
	}
	if ended != len(ids) {
		t.Fatalf("live pages heard %d ends, want %d", ended, len(ids))
	}
}

// sinkSpoolsAtStop: stopped while the database is away, the sink writes what waits to its
// spool; the next start saves it and removes the spool.
func sinkSpoolsAtStop(t *testing.T, f fixture, cluster *pgtest.Cluster) {
	spool := filepath.Join(t.TempDir(), "pending-call-events.json")
	s := NewSink(nil)
	s.Pending, s.CloseWait = spool, 300*time.Millisecond
	s.Start(f.store, nil)
	cluster.Stop()
	ctx := context.Background()
	ids := []string{"s1", "s2", "s3"}
	for _, id := range ids {
		s.CallChanged(ctx, testCall(f, id, false))
		s.CallEnded(ctx, testCall(f, id, true))
	}
	s.Close()
	if _, err := os.Stat(spool); err != nil {
		t.Fatalf("no spool after a stop with the database away: %v", err)
	}
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	next := NewSink(nil)
	next.Pending = spool
	next.Start(f.store, nil)
	next.Close()
	checkSaved(t, f, ids)
	if _, err := os.Stat(spool); !os.IsNotExist(err) {
		t.Fatalf("spool still there after its calls were saved: %v", err)
	}
}

// routeWhileTheDatabaseIsAway: a number routed once is routed the same while the database
// is away; an unknown number is still an error, and nothing is remembered without Routes.
func routeWhileTheDatabaseIsAway(t *testing.T, f fixture, cluster *pgtest.Cluster) {
	ctx := context.Background()
	if _, _, err := f.store.BookCallRecording(ctx, f.admin, f.pool.ID, models.BookingInput{Accepted: true,
		Notice: models.LegalNotice{Text: "Hinweis", Language: "de"}}); err != nil {
		t.Fatal(err)
	}
	d := Directory{Store: f.store, DataDir: f.dir, Routes: &Routes{}}
	want, err := d.Route(ctx, "49711218431431")
	if err != nil || !want.Recording.Active {
		t.Fatalf("route: %+v %v", want, err)
	}
	cluster.Stop()
	defer cluster.Start()
	got, err := d.Route(ctx, "49711218431431")
	if err != nil || got.PoolID != want.PoolID || got.Recording != want.Recording || got.Destination != want.Destination {
		t.Fatalf("route while away: %+v %v, want %+v", got, err, want)
	}
	if _, err := d.Route(ctx, "49711218431432"); err == nil {
		t.Fatal("a number never routed got a route while the database is away")
	}
	if _, err := (Directory{Store: f.store, DataDir: f.dir}).Route(ctx, "49711218431431"); err == nil {
		t.Fatal("a Directory without Routes routed while the database is away")
	}
}
