package models

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"callrec/calls"
	"callrec/internal/storetest"
)

// standardTexts are the product's default announcements (German verbatim from the product document).
func standardTexts(slot, lang string) string {
	de := map[string]string{
		SlotCallerNotice:          "Das nachfolgende Gespräch möchten wir gerne zum Zwecke der Qualitätssicherung aufzeichnen. Wenn Sie dies nicht wünschen, drücken Sie jetzt die ‚Sterntaste‘ auf Ihrer Telefontastatur oder geben Sie unserem Mitarbeiter einen Hinweis im Gespräch.",
		SlotObjectionConfirmation: "Okay, das Gespräch wird nicht aufgezeichnet",
		SlotCalleeWhisper:         "Dieses Gespräch wird eventuell aufgezeichnet, Aufnahme unterbrechen mit #1",
	}
	en := map[string]string{
		SlotCallerNotice:          "We would like to record the following call for quality assurance. If you do not agree, press the star key on your telephone keypad now or let our staff member know during the call.",
		SlotObjectionConfirmation: "Okay, this call will not be recorded.",
		SlotCalleeWhisper:         "This call may be recorded, press #1 to stop the recording.",
	}
	if lang == "de" {
		return de[slot]
	}
	return en[slot]
}

type bookingFixture struct {
	s                    *Store
	admin, agent, other  Actor
	root                 Actor
	pool, otherPool      Pool
	customer, otherCustm Customer
	clock                time.Time
}

func newBookingFixture(t testing.TB) *bookingFixture {
	t.Helper()
	s, err := Open(storetest.DSN(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &bookingFixture{s: s, root: Actor{UserID: 1, Username: "admin", Role: RolePlatformAdmin},
		clock: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	s.Now = func() time.Time { return f.clock }
	s.DefaultAnnouncements = standardTexts
	ctx := context.Background()
	mk := func(name, sub, start string) (Customer, Pool) {
		c, err := s.CreateCustomer(ctx, f.root, CustomerInput{Name: name, SubscriberID: sub, Language: "de", TimeZone: "Europe/Berlin"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.CreatePool(ctx, f.root, c.ID, PoolInput{Name: "P", StartNumber: start, Destination: "4915258878874", Numbers: []string{start}})
		if err != nil {
			t.Fatal(err)
		}
		return c, p
	}
	f.customer, f.pool = mk("Demo", "337826", "4971121843140")
	f.otherCustm, f.otherPool = mk("Other", "999001", "4930555000")
	f.admin = Actor{UserID: 10, Username: "boss", CustomerID: f.customer.ID, Role: RoleCustomerAdmin}
	f.agent = Actor{UserID: 11, Username: "agent", CustomerID: f.customer.ID, Role: RoleAgent}
	f.other = Actor{UserID: 12, Username: "intruder", CustomerID: f.otherCustm.ID, Role: RoleCustomerAdmin}
	if err := s.SetPrice(ctx, f.root, ModuleCallRecording, "19.90", "EUR"); err != nil {
		t.Fatal(err)
	}
	return f
}

var notice = LegalNotice{Text: "Recording calls is subject to law. We give no legal advice.", Language: "en"}

func TestBookCallRecording(t *testing.T) {
	f := newBookingFixture(t)
	ctx := context.Background()
	in := BookingInput{Accepted: true, Notice: notice, IP: "192.0.2.7"}

	var ve ValidationError
	if _, _, err := f.s.BookCallRecording(ctx, f.admin, f.pool.ID, BookingInput{Notice: notice}); !errors.As(err, &ve) || ve.Field("legal_notice_accepted") != "error.legal_confirmation_required" {
		t.Fatalf("booking without confirmation: %v", err)
	}
	if _, _, err := f.s.BookCallRecording(ctx, f.agent, f.pool.ID, in); !errors.Is(err, ErrForbidden) {
		t.Fatalf("agent booking: %v, want ErrForbidden", err)
	}
	if _, _, err := f.s.BookCallRecording(ctx, f.other, f.pool.ID, in); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other customer's admin booking: %v, want ErrNotFound", err)
	}
	cr, err := f.s.CallRecordingOf(ctx, f.agent, f.pool.ID)
	if err != nil || cr.State() != StateNotBooked || cr.Settings != nil || len(cr.Announcements) != 0 {
		t.Fatalf("before booking: %v %+v", err, cr)
	}

	cr, created, err := f.s.BookCallRecording(ctx, f.admin, f.pool.ID, in)
	if err != nil || !created || cr.State() != StateBooked {
		t.Fatalf("book: %v created=%v state=%s", err, created, cr.State())
	}
	b := cr.Booking
	if b.BookedByName != "boss" || b.BookedByID != 10 || b.IP != "192.0.2.7" || b.NoticeVersion != NoticeVersion(notice.Text) ||
		b.NoticeLang != "en" || b.PriceCents != 1990 || b.Currency != "EUR" || !b.BookedAt.Equal(f.clock) || len(b.NoticeVersion) != 64 {
		t.Errorf("booking facts: %+v", b)
	}
	if *cr.Settings != (CallRecordingSettings{PoolID: f.pool.ID, Enabled: true, Mode: ModeAutomatic, CallerAnnouncement: true, Channels: ChannelsStereo, UpdatedAt: cr.Settings.UpdatedAt}) {
		t.Errorf("default settings: %+v", cr.Settings)
	}
	if len(cr.Announcements) != 3 || cr.Announcements[0].Slot != SlotCallerNotice || cr.Announcements[2].TextDE != standardTexts(SlotCalleeWhisper, "de") ||
		cr.Announcements[1].TextEN != standardTexts(SlotObjectionConfirmation, "en") {
		t.Errorf("announcements: %+v", cr.Announcements)
	}

	// A price change does not change the booked price; booking again is a no-op.
	if err := f.s.SetPrice(ctx, f.root, ModuleCallRecording, "25", "EUR"); err != nil {
		t.Fatal(err)
	}
	cr, created, err = f.s.BookCallRecording(ctx, f.admin, f.pool.ID, in)
	if err != nil || created || cr.Booking.ID != b.ID || cr.Booking.PriceCents != 1990 || cr.Price.MonthlyCents != 2500 {
		t.Fatalf("second booking: %v created=%v %+v", err, created, cr.Booking)
	}

	// Settings: validation, audit with old and new values of what changed.
	bad, neg := "loud", -1
	_, err = f.s.UpdateCallRecordingSettings(ctx, f.admin, f.pool.ID, SettingsPatch{Mode: &bad, Channels: &bad, RetentionDays: &neg})
	if !errors.As(err, &ve) || ve.Field("mode") != "error.invalid_mode" || ve.Field("channels") != "error.invalid_channels" || ve.Field("retention_days") != "error.invalid_retention_days" {
		t.Fatalf("invalid settings: %v", err)
	}
	big := MaxRetentionDays + 1
	if _, err = f.s.UpdateCallRecordingSettings(ctx, f.admin, f.pool.ID, SettingsPatch{RetentionDays: &big}); !errors.As(err, &ve) {
		t.Fatalf("retention %d accepted", big)
	}
	manual, mono, days, off := ModeManual, ChannelsMono, 90, false
	if _, err := f.s.UpdateCallRecordingSettings(ctx, f.agent, f.pool.ID, SettingsPatch{Mode: &manual}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("agent changing settings: %v", err)
	}
	st, err := f.s.UpdateCallRecordingSettings(ctx, f.admin, f.pool.ID, SettingsPatch{Mode: &manual, Channels: &mono, RetentionDays: &days, CallerAnnouncement: &off, IP: "192.0.2.8"})
	if err != nil || st.Mode != ModeManual || st.Channels != ChannelsMono || st.RetentionDays != 90 || st.CallerAnnouncement || !st.Enabled {
		t.Fatalf("update: %v %+v", err, st)
	}
	pol, err := f.s.RecordingPolicy(ctx, f.pool.ID)
	if err != nil || !pol.Active || pol.Mode != calls.ModeManual || pol.Stereo || pol.CallerAnnouncement || pol.Language != "de" || len(pol.Announcements) != 3 {
		t.Fatalf("policy: %v %+v", err, pol)
	}

	// Cancel, then book again: settings and announcements are kept.
	if done, err := f.s.CancelCallRecording(ctx, f.agent, f.pool.ID, ""); err == nil || done {
		t.Fatalf("agent cancelling: %v", err)
	}
	f.clock = f.clock.Add(time.Hour)
	if done, err := f.s.CancelCallRecording(ctx, f.admin, f.pool.ID, "192.0.2.9"); err != nil || !done {
		t.Fatalf("cancel: %v %v", done, err)
	}
	if done, err := f.s.CancelCallRecording(ctx, f.admin, f.pool.ID, "192.0.2.9"); err != nil || done {
		t.Fatalf("cancel twice: %v %v", done, err)
	}
	if pol, err := f.s.RecordingPolicy(ctx, f.pool.ID); err != nil || pol.Active {
		t.Fatalf("policy after cancel: %v %+v", err, pol)
	}
	if _, err := f.s.UpdateCallRecordingSettings(ctx, f.admin, f.pool.ID, SettingsPatch{Mode: &manual}); !errors.Is(err, ErrNotBooked) {
		t.Fatalf("settings after cancel: %v", err)
	}
	cr, _ = f.s.CallRecordingOf(ctx, f.admin, f.pool.ID)
	if cr.State() != StateCancelled || cr.Booking.CancelledBy != "boss" || !cr.Booking.CancelledAt.Equal(f.clock) {
		t.Fatalf("after cancel: %+v", cr.Booking)
	}
	cr, created, err = f.s.BookCallRecording(ctx, f.admin, f.pool.ID, in)
	if err != nil || !created || cr.Booking.ID == b.ID || cr.Booking.PriceCents != 2500 || cr.Settings.Mode != ModeManual || len(cr.Announcements) != 3 {
		t.Fatalf("booking again: %v %v %+v %+v", err, created, cr.Booking, cr.Settings)
	}

	// The audit trail: created, settings changed, cancelled, created.
	pg, err := f.s.AuditEvents(ctx, f.admin, AuditFilter{}, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range pg.Events {
		kinds = append(kinds, e.Kind)
	}
	want := []string{"booking.created", "booking.cancelled", "settings.changed", "booking.created"}
	if len(kinds) != 4 || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] || kinds[3] != want[3] {
		t.Fatalf("audit kinds (newest first): %v", kinds)
	}
	ch := pg.Events[2]
	var oldV, newV map[string]any
	json.Unmarshal([]byte(ch.OldValue), &oldV)
	json.Unmarshal([]byte(ch.NewValue), &newV)
	if oldV["mode"] != "automatic" || newV["mode"] != "manual" || oldV["channels"] != "stereo" || newV["channels"] != "mono" ||
		newV["retention_days"] != float64(90) || newV["caller_announcement"] != false || len(newV) != 4 || oldV["enabled"] != nil {
		t.Errorf("settings.changed values: old %s new %s", ch.OldValue, ch.NewValue)
	}
	if ch.Username != "boss" || ch.UserID != 10 || ch.IP != "192.0.2.8" || ch.Object != "call_recording pool 1" {
		t.Errorf("settings.changed event: %+v", ch)
	}
	if pg.Events[1].OldValue == "" || pg.Events[1].IP != "192.0.2.9" {
		t.Errorf("cancel event: %+v", pg.Events[1])
	}
}

func TestFTPAccessAndAuditLog(t *testing.T) {
	f := newBookingFixture(t)
	ctx := context.Background()
	if _, _, err := f.s.BookFTPAccess(ctx, f.agent, f.customer.ID, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("agent: %v", err)
	}
	if _, _, err := f.s.BookFTPAccess(ctx, f.other, f.customer.ID, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other customer: %v", err)
	}
	fa, created, err := f.s.BookFTPAccess(ctx, f.admin, f.customer.ID, "192.0.2.1")
	if err != nil || !created || !fa.Booked() || fa.Booking.PoolID != 0 || fa.Booking.NoticeVersion != "" {
		t.Fatalf("book ftp: %v %+v", err, fa.Booking)
	}
	if ok, _ := f.s.HasFTPAccess(ctx, f.customer.ID); !ok {
		t.Error("HasFTPAccess after booking")
	}
	if ok, _ := f.s.HasFTPAccess(ctx, f.otherCustm.ID); ok {
		t.Error("HasFTPAccess for another customer")
	}
	// Another customer's events stay apart.
	f.clock = f.clock.Add(48 * time.Hour)
	if _, _, err := f.s.BookFTPAccess(ctx, f.other, f.otherCustm.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CancelFTPAccess(ctx, f.admin, f.customer.ID, ""); err != nil {
		t.Fatal(err)
	}
	pg, err := f.s.AuditEvents(ctx, f.admin, AuditFilter{}, 1, 0)
	if err != nil || pg.Total != 2 {
		t.Fatalf("own events: %v %d", err, pg.Total)
	}
	pg, _ = f.s.AuditEvents(ctx, f.admin, AuditFilter{From: f.clock.Add(-time.Hour)}, 1, 0)
	if pg.Total != 1 || pg.Events[0].Kind != "booking.cancelled" {
		t.Fatalf("from filter: %+v", pg)
	}
	pg, _ = f.s.AuditEvents(ctx, f.admin, AuditFilter{To: f.clock.Add(-time.Hour), Kind: "booking.created"}, 1, 0)
	if pg.Total != 1 || pg.Events[0].Kind != "booking.created" {
		t.Fatalf("to+kind filter: %+v", pg)
	}
	if _, err := f.s.AuditEvents(ctx, f.admin, AuditFilter{CustomerID: f.otherCustm.ID}, 1, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("foreign customer filter: %v", err)
	}
	if _, err := f.s.AuditEvents(ctx, f.agent, AuditFilter{}, 1, 0); !errors.Is(err, ErrForbidden) {
		t.Fatalf("agent reading the log: %v", err)
	}
	// The platform admin's log also holds the two ranges the fixture's pools assigned.
	pg, _ = f.s.AuditEvents(ctx, f.root, AuditFilter{}, 2, 2)
	if pg.Total != 5 || len(pg.Events) != 2 || pg.Pages() != 3 {
		t.Fatalf("platform admin page 2: %+v", pg)
	}
	kinds, err := f.s.AuditKinds(ctx, f.admin, 0)
	if err != nil || len(kinds) != 2 {
		t.Fatalf("kinds: %v %v", kinds, err)
	}
	n := 0
	if err := f.s.EachAuditEvent(ctx, f.admin, AuditFilter{}, func(AuditEvent) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("EachAuditEvent: %d %v", n, err)
	}
}

// TestConcurrentBookingCreatesOne: double clicks and racing API clients book once, audit once.
func TestConcurrentBookingCreatesOne(t *testing.T) {
	f := newBookingFixture(t)
	ctx := context.Background()
	const n = 8
	created := make(chan bool, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, c, err := f.s.BookCallRecording(ctx, f.admin, f.pool.ID, BookingInput{Accepted: true, Notice: notice})
			created <- c
			errs <- err
		}()
	}
	count := 0
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if <-created {
			count++
		}
	}
	pg, _ := f.s.AuditEvents(ctx, f.admin, AuditFilter{Kind: "booking.created"}, 1, 0)
	var rows int64
	f.s.db.Model(&ModuleBooking{}).Count(&rows)
	if count != 1 || pg.Total != 1 || rows != 1 {
		t.Fatalf("created %d times, %d audit events, %d rows", count, pg.Total, rows)
	}
}
