package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"callrec/i18n"
	"callrec/models"
)

// standardAnnouncement gives the standard texts (German verbatim from the product document), as
// cmd/callrec wires them from media/prompts, which web may not import.
func standardAnnouncement(slot, lang string) string {
	de := map[string]string{
		models.SlotCallerNotice:          "Das nachfolgende Gespräch möchten wir gerne zum Zwecke der Qualitätssicherung aufzeichnen. Wenn Sie dies nicht wünschen, drücken Sie jetzt die ‚Sterntaste‘ auf Ihrer Telefontastatur oder geben Sie unserem Mitarbeiter einen Hinweis im Gespräch.",
		models.SlotObjectionConfirmation: "Okay, das Gespräch wird nicht aufgezeichnet",
		models.SlotCalleeWhisper:         "Dieses Gespräch wird eventuell aufgezeichnet, Aufnahme unterbrechen mit #1",
	}
	en := map[string]string{
		models.SlotCallerNotice:          "We would like to record the following call for quality assurance. If you do not agree, press the star key on your telephone keypad now or tell our staff member during the call.",
		models.SlotObjectionConfirmation: "Okay, this call will not be recorded.",
		models.SlotCalleeWhisper:         "This call may be recorded; press #1 to stop the recording.",
	}
	if lang == "de" {
		return de[slot]
	}
	return en[slot]
}

func newBookingEnv(t *testing.T) *env {
	e := newEnv(t)
	e.store.DefaultAnnouncements = standardAnnouncement
	return e
}

// newFTPEnv is a booking environment whose installation runs an FTPS server, so FTP access is
// offered.
func newFTPEnv(t *testing.T) *env {
	e := newEnvWith(t, func(c *Config) { c.FTPAddr = "127.0.0.1:2121" })
	e.store.DefaultAnnouncements = standardAnnouncement
	return e
}

// TestFTPAccessOnlyWhereServed: an installation without FTPS and SFTP does not offer FTP access
// (the pool page has no such module, the form and the API refuse it); with a server it does.
func TestFTPAccessOnlyWhereServed(t *testing.T) {
	e := newBookingEnv(t)
	page := "/pools/" + strconv.Itoa(int(e.demoPool().ID))
	admin := e.admin()
	if st, body := admin.get(page); st != 200 || strings.Contains(body, `data-testid="module-ftp-access"`) {
		t.Errorf("pool page without an FTP server: %d, FTP module shown %v", st, strings.Contains(body, "module-ftp-access"))
	}
	if st, _, _ := admin.post(page+"/ftp-access/book", nil); st != http.StatusConflict {
		t.Errorf("form booking without an FTP server: %d, want 409", st)
	}
	var body apiErrorBody
	if st := e.api(e.token(e.demo.Admin), "PUT", "/ftp-access/booking", nil, &body); st != http.StatusConflict || body.Error.Code != "module_unavailable" {
		t.Errorf("API booking without an FTP server: %d %+v", st, body)
	}
	f := newFTPEnv(t)
	if st, body := f.admin().get("/pools/" + strconv.Itoa(int(f.demoPool().ID))); st != 200 || !strings.Contains(body, `data-testid="ftp-access-book"`) {
		t.Errorf("pool page with an FTP server: %d, no booking button", st)
	}
}

type callRecordingBody struct {
	PoolID  uint   `json:"pool_id"`
	State   string `json:"state"`
	Booking *struct {
		BookedBy struct {
			Name string `json:"name"`
		} `json:"booked_by"`
		IP             string `json:"ip"`
		NoticeVersion  string `json:"notice_version"`
		NoticeLanguage string `json:"notice_language"`
		PriceCents     int64  `json:"price_cents"`
		Currency       string `json:"currency"`
		CancelledAt    *string
	} `json:"booking"`
	Settings *struct {
		Enabled       bool   `json:"enabled"`
		Mode          string `json:"mode"`
		Announcement  bool   `json:"announcement"`
		Channels      string `json:"channels"`
		RetentionDays int    `json:"retention_days"`
	} `json:"settings"`
	Announcements []struct {
		Slot   string `json:"slot"`
		TextDE string `json:"text_de"`
		TextEN string `json:"text_en"`
	} `json:"announcements"`
	Price struct {
		MonthlyCents int64 `json:"monthly_cents"`
	} `json:"price"`
	LegalNotice struct {
		Text     string `json:"text"`
		Language string `json:"language"`
		Version  string `json:"version"`
	} `json:"legal_notice"`
}

func TestCallRecordingAPI(t *testing.T) {
	e := newBookingEnv(t)
	admin, agent, other := e.token(e.demo.Admin), e.token(e.demo.Agent), e.token(e.otherAdmin)
	pool := e.demoPool()
	path := "/pools/" + strconv.Itoa(int(pool.ID)) + "/call-recording"
	foreign := "/pools/" + strconv.Itoa(int(e.otherPool.ID)) + "/call-recording"

	var cr callRecordingBody
	if st := e.api(agent, "GET", path, nil, &cr); st != 200 || cr.State != models.StateNotBooked || cr.Booking != nil || cr.Price.MonthlyCents != 1990 {
		t.Fatalf("agent GET: %d %+v", st, cr)
	}
	// The demo customer speaks German: the notice comes in German, with its version.
	if cr.LegalNotice.Language != "de" || !strings.Contains(cr.LegalNotice.Text, "Rechtsberatung") || cr.LegalNotice.Version != models.NoticeVersion(cr.LegalNotice.Text) {
		t.Errorf("legal notice: %+v", cr.LegalNotice)
	}
	var eb apiErrorBody
	if st := e.api(agent, "PUT", path+"/booking", map[string]any{"legal_notice_accepted": true}, &eb); st != 403 || eb.Error.Code != "forbidden" {
		t.Fatalf("agent PUT: %d %+v", st, eb)
	}
	for _, body := range []any{map[string]any{}, map[string]any{"legal_notice_accepted": false}, map[string]any{"legal_notice_accepted": "true"}} {
		eb = apiErrorBody{}
		if st := e.api(admin, "PUT", path+"/booking", body, &eb); st != 422 || eb.Error.Code != "legal_confirmation_required" {
			t.Fatalf("PUT %v: %d %+v", body, st, eb)
		}
	}
	for _, tc := range []struct{ tok, method, path string }{
		{admin, "GET", foreign}, {admin, "PUT", foreign + "/booking"}, {admin, "DELETE", foreign + "/booking"},
		{admin, "PATCH", foreign}, {other, "GET", path}, {admin, "GET", "/pools/999999/call-recording"},
	} {
		eb = apiErrorBody{}
		if st := e.api(tc.tok, tc.method, tc.path, map[string]any{"legal_notice_accepted": true}, &eb); st != 404 || eb.Error.Code != "not_found" {
			t.Errorf("%s %s: %d %+v, want 404", tc.method, tc.path, st, eb)
		}
	}

	// Booking with the English notice's version records that text.
	_, _, en := legalNotice("en")
	cr = callRecordingBody{}
	st := e.api(admin, "PUT", path+"/booking", map[string]any{"legal_notice_accepted": true, "notice_version": models.NoticeVersion(en.Text)}, &cr)
	if st != 201 || cr.State != models.StateBooked || cr.Booking == nil || cr.Booking.BookedBy.Name != e.demo.Admin || cr.Booking.IP == "" ||
		cr.Booking.NoticeVersion != models.NoticeVersion(en.Text) || cr.Booking.NoticeLanguage != "en" || cr.Booking.PriceCents != 1990 || cr.Booking.Currency != "EUR" {
		t.Fatalf("PUT: %d %+v", st, cr.Booking)
	}
	if s := cr.Settings; s == nil || !s.Enabled || s.Mode != "automatic" || !s.Announcement || s.Channels != "stereo" || s.RetentionDays != 0 {
		t.Errorf("default settings: %+v", cr.Settings)
	}
	if len(cr.Announcements) != 3 || cr.Announcements[0].TextDE != standardAnnouncement(models.SlotCallerNotice, "de") || cr.Announcements[2].TextEN == "" {
		t.Errorf("announcements: %+v", cr.Announcements)
	}
	if st := e.api(admin, "PUT", path+"/booking", map[string]any{"legal_notice_accepted": true}, &cr); st != 200 {
		t.Fatalf("second PUT: %d", st)
	}
	eb = apiErrorBody{}
	if st := e.api(admin, "PUT", path+"/booking", map[string]any{"legal_notice_accepted": true, "notice_version": "abc"}, &eb); st != 422 || eb.Error.Code != "legal_notice_changed" {
		t.Errorf("stale notice version: %d %+v", st, eb)
	}

	// PATCH: one code per field.
	for _, tc := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"mode": "sometimes"}, "invalid_mode"},
		{map[string]any{"channels": "quad"}, "invalid_channels"},
		{map[string]any{"retention_days": 3651}, "invalid_retention_days"},
		{map[string]any{"retention_days": -1}, "invalid_retention_days"},
		{map[string]any{"retention_days": "30"}, "invalid_retention_days"},
		{map[string]any{"enabled": "yes"}, "invalid_enabled"},
		{map[string]any{"announcement": nil}, "invalid_announcement"},
		{map[string]any{"colour": "red"}, "unknown_field"},
	} {
		eb = apiErrorBody{}
		if st := e.api(admin, "PATCH", path, tc.body, &eb); st != 422 || eb.Error.Code != tc.code {
			t.Errorf("PATCH %v: %d %+v, want 422 %s", tc.body, st, eb, tc.code)
		}
	}
	if st := e.api(agent, "PATCH", path, map[string]any{"mode": "manual"}, &eb); st != 403 {
		t.Errorf("agent PATCH: %d", st)
	}
	cr = callRecordingBody{}
	st = e.api(admin, "PATCH", path, map[string]any{"mode": "manual", "channels": "mono", "retention_days": 30, "announcement": false, "enabled": true}, &cr)
	if s := cr.Settings; st != 200 || s == nil || s.Mode != "manual" || s.Channels != "mono" || s.RetentionDays != 30 || s.Announcement || !s.Enabled {
		t.Fatalf("PATCH: %d %+v", st, cr.Settings)
	}

	// Audit log via API: created and settings changed, with old and new values.
	var log struct {
		Events []struct {
			Kind string `json:"kind"`
			User struct{ Name string }
			IP   string          `json:"ip"`
			Old  json.RawMessage `json:"old"`
			New  json.RawMessage `json:"new"`
		} `json:"events"`
		Total int `json:"total"`
	}
	if st := e.api(admin, "GET", "/audit-events?kind=settings.changed", nil, &log); st != 200 || log.Total != 1 {
		t.Fatalf("audit events: %d %+v", st, log)
	}
	var oldV, newV map[string]any
	json.Unmarshal(log.Events[0].Old, &oldV)
	json.Unmarshal(log.Events[0].New, &newV)
	if oldV["mode"] != "automatic" || newV["mode"] != "manual" || oldV["retention_days"] != 0.0 || newV["retention_days"] != 30.0 ||
		oldV["channels"] != "stereo" || newV["channels"] != "mono" || log.Events[0].User.Name != e.demo.Admin || log.Events[0].IP == "" {
		t.Errorf("settings.changed: old %s new %s", log.Events[0].Old, log.Events[0].New)
	}
	if st := e.api(admin, "GET", "/audit-events?from=2000-01-01&to=2999-12-31", nil, &log); st != 200 || log.Total != 2 {
		t.Errorf("audit events by date: %d total %d", st, log.Total)
	}
	if st := e.api(admin, "GET", "/audit-events?from=2999-01-01", nil, &log); st != 200 || log.Total != 0 {
		t.Errorf("audit events in the future: %d total %d", st, log.Total)
	}
	if st := e.api(admin, "GET", "/audit-events?from=yesterday", nil, &eb); st != 422 || eb.Error.Code != "invalid_from" {
		t.Errorf("bad from: %d %+v", st, eb)
	}
	if st := e.api(agent, "GET", "/audit-events", nil, &eb); st != 403 {
		t.Errorf("agent audit events: %d", st)
	}
	if st := e.api(other, "GET", "/audit-events", nil, &log); st != 200 || log.Total != 0 {
		t.Errorf("other customer sees %d events (status %d)", log.Total, st)
	}
	platform := e.token("admin")
	if st := e.api(platform, "GET", "/audit-events?customer="+strconv.Itoa(int(pool.CustomerID)), nil, &log); st != 200 || log.Total != 2 {
		t.Errorf("platform admin, one customer: %d total %d", st, log.Total)
	}

	// Cancel: 204, state cancelled, settings frozen, booking again keeps them.
	if st := e.api(agent, "DELETE", path+"/booking", nil, nil); st != 403 {
		t.Errorf("agent DELETE: %d", st)
	}
	if st := e.api(admin, "DELETE", path+"/booking", nil, nil); st != 204 {
		t.Fatalf("DELETE: %d", st)
	}
	if st := e.api(admin, "GET", path, nil, &cr); st != 200 || cr.State != models.StateCancelled {
		t.Fatalf("after DELETE: %d %s", st, cr.State)
	}
	if st := e.api(admin, "PATCH", path, map[string]any{"mode": "automatic"}, &eb); st != 409 || eb.Error.Code != "module_not_booked" {
		t.Errorf("PATCH after cancel: %d %+v", st, eb)
	}
	cr = callRecordingBody{}
	if st := e.api(admin, "PUT", path+"/booking", map[string]any{"legal_notice_accepted": true}, &cr); st != 201 || cr.Settings.Mode != "manual" || cr.Booking.NoticeLanguage != "de" {
		t.Fatalf("booking again: %d %+v", st, cr.Settings)
	}
}

// TestBookingIPIsTheConnections: a booking is a legal record, so a forged X-Forwarded-For header
// must not choose the address stored with it.
func TestBookingIPIsTheConnections(t *testing.T) {
	e := newFTPEnv(t)
	req, _ := http.NewRequest("PUT", e.srv.URL+"/api/v1/ftp-access/booking", nil)
	req.Header.Set("Authorization", "Bearer "+e.token(e.demo.Admin))
	req.Header.Set("X-Forwarded-For", "203.0.113.66")
	req.Header.Set("X-Real-IP", "203.0.113.67")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f, err := e.store.FTPAccessOf(t.Context(), models.Actor{Role: models.RolePlatformAdmin}, e.demoPool().CustomerID)
	if err != nil || resp.StatusCode != 201 || f.Booking.IP != "127.0.0.1" {
		t.Fatalf("status %d, stored IP %q (%v)", resp.StatusCode, f.Booking.IP, err)
	}
}

func TestFTPAccessAPI(t *testing.T) {
	e := newFTPEnv(t)
	admin, agent := e.token(e.demo.Admin), e.token(e.demo.Agent)
	var fa struct {
		State   string `json:"state"`
		Booking *struct {
			PoolID     *uint `json:"pool_id"`
			PriceCents int64 `json:"price_cents"`
		} `json:"booking"`
	}
	if st := e.api(agent, "PUT", "/ftp-access/booking", nil, nil); st != 403 {
		t.Errorf("agent PUT: %d", st)
	}
	if st := e.api(admin, "PUT", "/ftp-access/booking", nil, &fa); st != 201 || fa.State != "booked" || fa.Booking.PoolID != nil || fa.Booking.PriceCents != 990 {
		t.Fatalf("PUT: %d %+v", st, fa)
	}
	if st := e.api(admin, "PUT", "/ftp-access/booking", nil, &fa); st != 200 {
		t.Errorf("second PUT: %d", st)
	}
	if ok, _ := e.store.HasFTPAccess(t.Context(), e.demoPool().CustomerID); !ok {
		t.Error("HasFTPAccess after booking")
	}
	if st := e.api(admin, "GET", "/ftp-access?customer="+strconv.Itoa(int(e.otherPool.CustomerID)), nil, nil); st != 404 {
		t.Errorf("another customer's FTP access: %d", st)
	}
	platform := e.token("admin")
	if st := e.api(platform, "PUT", "/ftp-access/booking", nil, nil); st != 422 {
		t.Errorf("platform admin without customer: %d", st)
	}
	if st := e.api(admin, "DELETE", "/ftp-access/booking", nil, nil); st != 204 {
		t.Errorf("DELETE: %d", st)
	}
	if st := e.api(agent, "GET", "/ftp-access", nil, &fa); st != 200 || fa.State != "cancelled" {
		t.Errorf("agent GET after cancel: %d %+v", st, fa)
	}
}

func TestCallRecordingPage(t *testing.T) {
	e := newBookingEnv(t)
	pool := e.demoPool()
	page := "/pools/" + strconv.Itoa(int(pool.ID))
	admin, agent := e.admin(), e.agent()

	st, body := agent.get(page)
	if st != 200 || !strings.Contains(body, `data-state="not_booked"`) || !strings.Contains(body, "19,90\u00a0€") {
		t.Fatalf("agent pool page: %d", st)
	}
	for _, forbidden := range []string{"call-recording-book-form", "ftp-access-book", "legal-notice"} {
		if strings.Contains(body, forbidden) {
			t.Errorf("agent sees %s", forbidden)
		}
	}
	if st, _, _ := agent.post(page+"/call-recording/book", url.Values{"legal_notice_accepted": {"true"}}); st != 403 {
		t.Errorf("agent booking by form: %d", st)
	}
	if st, _, _ := admin.post("/pools/"+strconv.Itoa(int(e.otherPool.ID))+"/call-recording/book", url.Values{"legal_notice_accepted": {"true"}}); st != 404 {
		t.Errorf("booking another customer's pool: %d", st)
	}

	st, body = admin.get(page)
	text, confirm, n := legalNotice("de")
	if st != 200 || !strings.Contains(body, `data-testid="legal-notice-text">`+text+"<") || !strings.Contains(body, confirm) {
		t.Fatalf("admin pool page lacks the German notice: %d", st)
	}
	st, body, _ = admin.post(page+"/call-recording/book", url.Values{"notice_version": {models.NoticeVersion(n.Text)}})
	if st != 422 || !strings.Contains(body, `data-testid="error-legal_notice_accepted"`) || !strings.Contains(body, i18n.TL("de", "error.legal_confirmation_required")) {
		t.Fatalf("booking without checkbox: %d", st)
	}
	if st, _, loc := admin.post(page+"/call-recording/book", url.Values{"notice_version": {models.NoticeVersion(n.Text)}, "legal_notice_accepted": {"true"}}); st != 303 || !strings.HasPrefix(loc, page) {
		t.Fatalf("booking: %d %s", st, loc)
	}
	st, body = admin.get(page)
	for _, want := range []string{`data-state="booked"`, "Gebucht seit", e.demo.Admin, `data-testid="call-recording-notice-version"`,
		"call-recording-settings-form", "call-recording-cancel", "‚Sterntaste‘", "19,90\u00a0€"} {
		if !strings.Contains(body, want) {
			t.Errorf("booked page lacks %q", want)
		}
	}
	_, body = agent.get(page)
	if !strings.Contains(body, `data-testid="setting-mode"`) || strings.Contains(body, "call-recording-settings-form") || strings.Contains(body, "call-recording-cancel") {
		t.Error("agent should see the settings read-only and no cancel button")
	}

	// Settings form.
	form := url.Values{"enabled": {"true"}, "mode": {"manual"}, "channels": {"stereo"}, "retention_days": {"abc"}}
	if st, body, _ := admin.post(page+"/call-recording/settings", form); st != 422 || !strings.Contains(body, `data-testid="error-retention_days"`) {
		t.Fatalf("bad retention: %d", st)
	} else if !strings.Contains(body, `data-testid="announcements"`) || !strings.Contains(body, `value="abc"`) {
		t.Error("a refused settings form must come back on the whole pool page (announcements too) with what was posted")
	}
	form.Set("retention_days", "365")
	if st, _, _ := agent.post(page+"/call-recording/settings", form); st != 403 {
		t.Errorf("agent settings: %d", st)
	}
	if st, _, loc := admin.post(page+"/call-recording/settings", form); st != 303 || loc != page+"#flash-call-recording-settings" {
		t.Fatalf("settings: %d %s", st, loc)
	}
	// Without script the redirect lands on the message, which stands beside the save button
	// (not at the page's head); a page read afterwards shows it no more.
	_, body = admin.get(page)
	beside := `data-testid="call-recording-settings-save">Einstellungen speichern</button><p class="flash" role="status" id="flash-call-recording-settings" data-flash-here data-testid="flash">`
	if !strings.Contains(body, beside) || strings.Count(body, `data-testid="flash"`) != 1 {
		t.Errorf("the saved message is not beside the save button:\n%s", body)
	}
	if _, body = admin.get(page); strings.Contains(body, `data-testid="flash"`) {
		t.Error("the saved message shows twice")
	}
	cr, _ := e.store.CallRecordingOf(t.Context(), models.Actor{Role: models.RolePlatformAdmin}, pool.ID)
	if s := cr.Settings; s.Mode != "manual" || s.CallerAnnouncement || s.RetentionDays != 365 || !s.Enabled {
		t.Errorf("stored settings: %+v", s)
	}
	if st, _, loc := admin.post(page+"/call-recording/cancel", nil); st != 303 || loc != page+"#flash-call-recording" {
		t.Fatalf("cancel: %d %s", st, loc)
	}
	_, body = admin.get(page)
	if !strings.Contains(body, `id="flash-call-recording"`) || strings.Contains(body, `<main id="main"><p class="flash"`) {
		t.Error("the cancelled message is not in the module's section")
	}
	if !strings.Contains(body, `data-state="cancelled"`) || !strings.Contains(body, "Gekündigt am") || !strings.Contains(body, "Erneut buchen") {
		t.Error("cancelled state not shown")
	}

	// The audit log page.
	if st, _ := agent.get("/audit"); st != 403 {
		t.Errorf("agent /audit: %d", st)
	}
	st, body = admin.get("/audit")
	if st != 200 || strings.Count(body, `data-kind="`) != 3 || !strings.Contains(body, "Einstellungen geändert") || !strings.Contains(body, `data-testid="nav-audit"`) {
		t.Fatalf("audit page: %d, %d rows", st, strings.Count(body, `data-kind="`))
	}
	if _, body = admin.get("/audit?kind=booking.cancelled"); strings.Count(body, `data-kind="`) != 1 {
		t.Error("kind filter")
	}
	if st, _ := admin.get("/audit?from=gestern"); st != 422 {
		t.Errorf("bad date: %d", st)
	}
}

// TestLegalNoticeLanguages: each UI language has its own notice and version, and the API shows
// the user's.
func TestLegalNoticeLanguages(t *testing.T) {
	seen := map[string]string{}
	for _, l := range i18n.Languages {
		text, confirm, n := legalNotice(l)
		v := models.NoticeVersion(n.Text)
		if text == "" || confirm == "" || n.Language != l || seen[v] != "" || n.Text != text+"\n\n"+confirm {
			t.Errorf("%s: notice %+v (same version as %s)", l, n, seen[v])
		}
		seen[v] = l
	}
	for l, phrase := range map[string]string{"de": "keine Rechtsberatung", "en": "do not give legal advice", "fr": "aucun conseil juridique"} {
		if text, _, _ := legalNotice(l); !strings.Contains(text, phrase) {
			t.Errorf("%s notice lacks %q", l, phrase)
		}
	}
	e := newBookingEnv(t)
	u, _ := e.store.UserByName(t.Context(), e.demo.Admin)
	if err := e.store.SetUserLanguage(t.Context(), u.ID, "fr"); err != nil {
		t.Fatal(err)
	}
	var cr callRecordingBody
	if st := e.api(e.token(e.demo.Admin), "GET", "/pools/"+strconv.Itoa(int(e.demoPool().ID))+"/call-recording", nil, &cr); st != 200 || cr.LegalNotice.Language != "fr" {
		t.Fatalf("French user's notice: %d %+v", st, cr.LegalNotice)
	}
}
