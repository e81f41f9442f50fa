package enginestore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"callrec/media"
	"callrec/media/prompts"
	"callrec/models"
)

type fixture struct {
	store *models.Store
	dir   string
	admin models.Actor
	pool  models.Pool
}

// newFixture is a store with the demo customer and pool, and the shipped prompts installed.
func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	s, err := models.Open(filepath.Join(dir, "callrec.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	d, _, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.UserByName(ctx, d.Admin)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.PoolByNumber(ctx, "4971121843140")
	if err != nil {
		t.Fatal(err)
	}
	if err := InstallDefaultPrompts(dir); err != nil {
		t.Fatal(err)
	}
	return fixture{store: s, dir: dir, admin: models.ActorOf(u), pool: p}
}

func TestRouteUnknownNumber(t *testing.T) {
	f := newFixture(t)
	_, err := Directory{Store: f.store, DataDir: f.dir}.Route(context.Background(), "4912345")
	if !errors.Is(err, media.ErrUnknownNumber) {
		t.Fatalf("unknown number: %v, want media.ErrUnknownNumber", err)
	}
}

func TestRouteFollowsTheBooking(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := Directory{Store: f.store, DataDir: f.dir}
	r, err := d.Route(ctx, "49711218431431")
	if err != nil {
		t.Fatal(err)
	}
	if r.PoolID != f.pool.ID || r.CustomerID != f.pool.CustomerID || r.SubscriberID != "337826" ||
		r.StartNumber != "4971121843140" || r.Destination != "4915258878874" || r.Location.String() != "Europe/Berlin" {
		t.Errorf("route %+v", r)
	}
	if r.Recording.Active {
		t.Error("a pool without the module records")
	}

	if _, _, err := f.store.BookCallRecording(ctx, f.admin, f.pool.ID, models.BookingInput{Accepted: true,
		Notice: models.LegalNotice{Text: "notice", Language: "de"}}); err != nil {
		t.Fatal(err)
	}
	if r, err = d.Route(ctx, "49711218431431"); err != nil {
		t.Fatal(err)
	}
	// The first booking's defaults, and the shipped prompts in the customer's language.
	want := media.Policy{Active: true, Mode: media.ModeAutomatic, CallerNotice: true, Stereo: true, Prompts: media.Prompts{
		CallerNotice:          DefaultPromptPath(f.dir, models.SlotCallerNotice, "de"),
		ObjectionConfirmation: DefaultPromptPath(f.dir, models.SlotObjectionConfirmation, "de"),
		CalleeWhisper:         DefaultPromptPath(f.dir, models.SlotCalleeWhisper, "de"),
	}}
	if r.Recording != want {
		t.Errorf("booked: %+v, want %+v", r.Recording, want)
	}

	manual, off := models.ModeManual, false
	if _, err := f.store.UpdateCallRecordingSettings(ctx, f.admin, f.pool.ID, models.SettingsPatch{Mode: &manual, Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if r, err = d.Route(ctx, "49711218431431"); err != nil || r.Recording.Active {
		t.Errorf("disabled: %+v %v", r.Recording, err)
	}
	on := true
	if _, err := f.store.UpdateCallRecordingSettings(ctx, f.admin, f.pool.ID, models.SettingsPatch{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	if r, err = d.Route(ctx, "49711218431431"); err != nil || r.Recording.Mode != media.ModeManual {
		t.Errorf("manual: %+v %v", r.Recording, err)
	}
}

func TestRoutePlaysTheUploadUntilItIsGone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.store.BookCallRecording(ctx, f.admin, f.pool.ID, models.BookingInput{Accepted: true,
		Notice: models.LegalNotice{Text: "notice", Language: "de"}}); err != nil {
		t.Fatal(err)
	}
	c, err := f.store.AnnouncementCustomer(ctx, f.admin, 0)
	if err != nil {
		t.Fatal(err)
	}
	folder := models.AnnouncementFolder(c.SubscriberID)
	file := &models.File{Name: "hello.wav", Path: folder + "/hello.wav", Ready: true}
	disk := filepath.Join(f.dir, filepath.FromSlash(file.Path))
	if err := os.MkdirAll(filepath.Dir(disk), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(disk, prompts.WAV(models.SlotCalleeWhisper, "en"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateAnnouncementFile(ctx, f.admin, "", c, file, "file.uploaded"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.SetAnnouncement(ctx, f.admin, "", f.pool.ID, models.SlotCallerNotice,
		models.AnnouncementChange{Source: models.SourceFile, FileID: file.ID}); err != nil {
		t.Fatal(err)
	}
	d := Directory{Store: f.store, DataDir: f.dir}
	r, err := d.Route(ctx, "4971121843140")
	if err != nil || r.Recording.Prompts.CallerNotice != disk {
		t.Errorf("caller notice %q (%v), want the upload %q", r.Recording.Prompts.CallerNotice, err, disk)
	}
	// A file gone from disk must not silence the notice: the shipped prompt plays instead.
	if err := os.Remove(disk); err != nil {
		t.Fatal(err)
	}
	r, err = d.Route(ctx, "4971121843140")
	if want := DefaultPromptPath(f.dir, models.SlotCallerNotice, "de"); err != nil || r.Recording.Prompts.CallerNotice != want {
		t.Errorf("caller notice %q (%v), want the standard prompt %q", r.Recording.Prompts.CallerNotice, err, want)
	}
}

func TestInstallDefaultPromptsRepairs(t *testing.T) {
	dir := t.TempDir()
	if err := InstallDefaultPrompts(dir); err != nil {
		t.Fatal(err)
	}
	p := DefaultPromptPath(dir, models.SlotCalleeWhisper, "en")
	if err := os.WriteFile(p, []byte("an older release"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := InstallDefaultPrompts(dir); err != nil {
		t.Fatal(err)
	}
	for _, slot := range models.Slots {
		for _, lang := range []string{"de", "en"} {
			b, err := os.ReadFile(DefaultPromptPath(dir, slot, lang))
			if err != nil || !bytes.Equal(b, prompts.WAV(slot, lang)) || len(b) < 1000 {
				t.Errorf("%s.%s: %d bytes (%v), not the shipped prompt", slot, lang, len(b), err)
			}
		}
	}
}

// live records the calls the sink forwards and checks each was saved first.
type live struct {
	t     *testing.T
	store *models.Store
	mu    sync.Mutex
	seen  []media.CallInfo
}

func (l *live) CallChanged(c media.CallInfo) { l.note(c) }
func (l *live) CallEnded(c media.CallInfo)   { l.note(c) }
func (l *live) note(c media.CallInfo) {
	ids, err := l.store.CallIDs(context.Background(), system, []string{c.ID})
	if err != nil || ids[c.ID] == 0 {
		l.t.Errorf("call %s forwarded before it was saved (%v)", c.ID, err)
	}
	l.mu.Lock()
	l.seen = append(l.seen, c)
	l.mu.Unlock()
}

func TestSinkSavesThenForwards(t *testing.T) {
	f := newFixture(t)
	arrival := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	bridged := arrival.Add(5 * time.Second)
	c := media.CallInfo{ID: "e1", CustomerID: f.pool.CustomerID, PoolID: f.pool.ID, SubscriberID: "337826",
		StartNumber: "4971121843140", A: "49711218431440", B: "49711218431431", C: "4915258878874",
		Arrival: arrival, Answered: arrival.Add(time.Second), Bridged: bridged, State: media.StateConnected,
		Rec: media.RecRecording, Mode: media.ModeAutomatic,
		Events: []media.Event{{At: arrival.Add(2 * time.Second), Kind: media.EventNoticePlayed, By: "system"}}}
	l := &live{t: t, store: f.store}
	s := NewSink(nil)
	s.Start(f.store, l)
	s.CallChanged(context.Background(), c)
	c.State, c.Rec, c.Outcome, c.Ended, c.Recorded = media.StateEnded, media.RecStopped, media.OutcomeCompleted, bridged.Add(10*time.Second), 4*time.Second
	c.Segments = []media.Segment{{Start: time.Second, End: 5 * time.Second}}
	c.Recording = &media.RecordingInfo{Path: "call_recording/337826/4971121843140/rec.wav", Channels: 2, Size: 320044,
		Duration: 10 * time.Second, Recorded: 4 * time.Second}
	s.CallEnded(context.Background(), c)
	s.Close()
	if len(l.seen) != 2 || l.seen[1].State != media.StateEnded {
		t.Fatalf("forwarded %d calls: %+v", len(l.seen), l.seen)
	}
	ids, _ := f.store.CallIDs(context.Background(), system, []string{"e1"})
	got, err := f.store.CallWithTrail(context.Background(), system, ids["e1"])
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "ended" || got.RecState != "stopped" || got.Outcome != "completed" || got.Mode != "automatic" ||
		got.DurationMS != 10000 || got.RecordedMS != 4000 || got.A != c.A || got.B != c.B || got.C != c.C ||
		len(got.Events) != 1 || got.Events[0].Kind != "notice_played" || got.Events[0].OffsetMS != 2000 {
		t.Errorf("saved call %+v", got)
	}
	if got.Recording == nil || got.Recording.Status != models.RecordingComplete || got.Recording.Channels != 2 ||
		got.Recording.DurationMS != 10000 || len(got.Recording.SegmentsMS()) != 1 || got.Recording.SegmentsMS()[0] != [2]int64{1000, 5000} {
		t.Errorf("saved recording %+v", got.Recording)
	}
}
