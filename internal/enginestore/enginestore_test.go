package enginestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"callrec/calls"
	"callrec/internal/storetest"
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
	s, err := models.Open(storetest.DSN(t, dir))
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
		CallerNotice:          DefaultPromptPath(f.dir, calls.SlotCallerNotice, "de"),
		ObjectionConfirmation: DefaultPromptPath(f.dir, calls.SlotObjectionConfirmation, "de"),
		CalleeWhisper:         DefaultPromptPath(f.dir, calls.SlotCalleeWhisper, "de"),
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

// TestRouteCarriesThePoolsCallCap: the cap the platform admin sets on a pool reaches the
// engine with the pool's route (0, the engine's default, until it is set).
func TestRouteCarriesThePoolsCallCap(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := Directory{Store: f.store, DataDir: f.dir}
	if r, err := d.Route(ctx, "49711218431431"); err != nil || r.MaxCalls != 0 {
		t.Fatalf("before: %d %v", r.MaxCalls, err)
	}
	three := 3
	root := models.Actor{Role: models.RolePlatformAdmin, Username: "admin"}
	p, err := f.store.Pool(ctx, root, f.pool.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.UpdatePool(ctx, root, p.ID, models.PoolInput{Name: p.Name, StartNumber: p.StartNumber,
		Destination: p.Destination, Numbers: p.NumberList(), MaxCalls: &three}); err != nil {
		t.Fatal(err)
	}
	if r, err := d.Route(ctx, "49711218431431"); err != nil || r.MaxCalls != 3 {
		t.Fatalf("after the platform admin set 3: %d %v", r.MaxCalls, err)
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
	if err := os.WriteFile(disk, prompts.WAV(string(calls.SlotCalleeWhisper), "en"), 0o640); err != nil {
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
	if want := DefaultPromptPath(f.dir, calls.SlotCallerNotice, "de"); err != nil || r.Recording.Prompts.CallerNotice != want {
		t.Errorf("caller notice %q (%v), want the standard prompt %q", r.Recording.Prompts.CallerNotice, err, want)
	}
}

func TestInstallDefaultPromptsRepairs(t *testing.T) {
	dir := t.TempDir()
	if err := InstallDefaultPrompts(dir); err != nil {
		t.Fatal(err)
	}
	p := DefaultPromptPath(dir, calls.SlotCalleeWhisper, "en")
	if err := os.WriteFile(p, []byte("an older release"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := InstallDefaultPrompts(dir); err != nil {
		t.Fatal(err)
	}
	for _, slot := range calls.Slots {
		for _, lang := range prompts.Langs {
			b, err := os.ReadFile(DefaultPromptPath(dir, slot, lang))
			if err != nil || !bytes.Equal(b, prompts.WAV(string(slot), lang)) || len(b) < 1000 {
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
		Diversion:   "<sip:4971121843140@carrier.example>;reason=unconditional;counter=1",
		HistoryInfo: "<sip:4971121843140@carrier.example>;index=1, <sip:49711218431431@carrier.example>;index=1.1",
		Arrival:     arrival, Answered: arrival.Add(time.Second), Bridged: bridged, State: media.StateConnected,
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
	// The connected snapshot is forwarded unless the ended one was queued before it was saved
	// (a call's newest snapshot replaces the older ones still waiting).
	if len(l.seen) < 1 || len(l.seen) > 2 || l.seen[len(l.seen)-1].State != media.StateEnded {
		t.Fatalf("forwarded %d calls: %+v", len(l.seen), l.seen)
	}
	ids, _ := f.store.CallIDs(context.Background(), system, []string{"e1"})
	got, err := f.store.CallWithTrail(context.Background(), system, ids["e1"])
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "ended" || got.RecState != "stopped" || got.Outcome != "completed" || got.Mode != "automatic" ||
		got.DurationMS != 10000 || got.RecordedMS != 4000 || got.A != c.A || got.B != c.B || got.C != c.C ||
		got.Diversion != c.Diversion || got.HistoryInfo != c.HistoryInfo || len(got.Events) != 1 || got.Events[0].Kind != "notice_played" || got.Events[0].OffsetMS != 2000 {
		t.Errorf("saved call %+v", got)
	}
	if got.Recording == nil || got.Recording.Status != models.RecordingComplete || got.Recording.Channels != 2 ||
		got.Recording.DurationMS != 10000 || len(got.Recording.SegmentsMS()) != 1 || got.Recording.SegmentsMS()[0] != [2]int64{1000, 5000} {
		t.Errorf("saved recording %+v", got.Recording)
	}
}

// TestVocabularyRoundTrip: every value of the call vocabulary the engine reports is stored as
// itself and reads back as a valid value of its type, and every announcement slot the store
// keeps is one the Directory routes.
func TestVocabularyRoundTrip(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	arrival := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	n := max(len(calls.States), len(calls.RecStates), len(calls.Outcomes), len(calls.Modes), len(calls.EventKinds))
	for i := range n {
		c := media.CallInfo{ID: fmt.Sprintf("v%d", i), CustomerID: f.pool.CustomerID, PoolID: f.pool.ID,
			Arrival: arrival, Ended: arrival.Add(time.Minute),
			State: calls.States[i%len(calls.States)], Rec: calls.RecStates[i%len(calls.RecStates)],
			Outcome: calls.Outcomes[i%len(calls.Outcomes)], Mode: calls.Modes[i%len(calls.Modes)],
			Events: []media.Event{{At: arrival, Kind: calls.EventKinds[i%len(calls.EventKinds)], By: "system"}}}
		saved, err := f.store.SaveCall(ctx, CallRecord(c, true))
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.store.CallWithTrail(ctx, system, saved.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st := calls.State(got.State); st != c.State || !st.Valid() {
			t.Errorf("state %q stored as %q", c.State, got.State)
		}
		if r := calls.RecState(got.RecState); r != c.Rec || !r.Valid() {
			t.Errorf("recording state %q stored as %q", c.Rec, got.RecState)
		}
		if o := calls.Outcome(got.Outcome); o != c.Outcome || !o.Valid() {
			t.Errorf("outcome %q stored as %q", c.Outcome, got.Outcome)
		}
		if m := calls.Mode(got.Mode); m != c.Mode || !m.Valid() {
			t.Errorf("mode %q stored as %q", c.Mode, got.Mode)
		}
		if len(got.Events) != 1 || calls.EventKind(got.Events[0].Kind) != c.Events[0].Kind || !calls.EventKind(got.Events[0].Kind).Valid() {
			t.Errorf("event %q stored as %+v", c.Events[0].Kind, got.Events)
		}
	}

	// The recording's status as the store derives it from the engine's reports.
	rec := func(id string, info media.RecordingInfo, final bool) models.Recording {
		t.Helper()
		info.Path = "call_recording/337826/4971121843140/" + id + ".wav"
		saved, err := f.store.SaveCall(ctx, CallRecord(media.CallInfo{ID: id, CustomerID: f.pool.CustomerID, PoolID: f.pool.ID,
			Arrival: arrival, State: calls.StateConnected, Recording: &info}, final))
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.store.CallWithTrail(ctx, system, saved.ID)
		if err != nil || got.Recording == nil {
			t.Fatalf("%s: %+v %v", id, got, err)
		}
		return *got.Recording
	}
	want := map[calls.RecordingStatus]models.Recording{
		calls.RecordingActive:   rec("r-active", media.RecordingInfo{Channels: 1}, false),
		calls.RecordingComplete: rec("r-complete", media.RecordingInfo{Channels: 1}, true),
		calls.RecordingFailed:   rec("r-failed", media.RecordingInfo{Channels: 1, Failed: "disk full"}, true),
	}
	crashed := rec("r-crashed", media.RecordingInfo{Channels: 1}, false)
	if err := f.store.MarkInterrupted(ctx, crashed.ID, 44, 0, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := f.store.CallWithTrail(ctx, system, crashed.CallID); err != nil || got.Recording == nil {
		t.Fatal(got, err)
	} else {
		want[calls.RecordingInterrupted] = *got.Recording
	}
	for _, st := range calls.RecordingStatuses {
		r, ok := want[st]
		if !ok || calls.RecordingStatus(r.Status) != st {
			t.Errorf("status %q: stored %q", st, r.Status)
		}
	}

	if len(models.Slots) != len(calls.Slots) {
		t.Fatalf("the store keeps slots %v, the vocabulary has %v", models.Slots, calls.Slots)
	}
	for i, s := range models.Slots {
		if calls.Slot(s) != calls.Slots[i] {
			t.Errorf("slot %d: store %q, vocabulary %q", i, s, calls.Slots[i])
		}
	}
}
