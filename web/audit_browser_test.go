package web

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"callrec/internal/browsertest"
	"callrec/models"
)

// TestBrowserAuditLogReadable: the audit log in German names kinds and fields in words, shows
// values as people read them (on/off, manual, prices as money), links the pool by its name and
// folds repeated listening into one row.
func TestBrowserAuditLogReadable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pool := e.demoPool()
	admin, err := e.store.UserByName(ctx, e.demo.Admin)
	if err != nil {
		t.Fatal(err)
	}
	a := models.ActorOf(admin)
	if _, _, err := e.store.BookCallRecording(ctx, a, pool.ID, models.BookingInput{Accepted: true,
		Notice: models.LegalNotice{Text: "notice", Language: "de"}, IP: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	off, manual := false, models.ModeManual
	if _, err := e.store.UpdateCallRecordingSettings(ctx, a, pool.ID, models.SettingsPatch{Enabled: &off, Mode: &manual}); err != nil {
		t.Fatal(err)
	}
	rec := e.addRecording(pool, "audit-1", seedName, time.Now().Add(-time.Hour), "49711218431440")
	f, err := e.store.FileByID(ctx, a, rec)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // three listens, each outside the others' window of one listen
		if err := e.store.Audit(ctx, models.AuditEntry{CustomerID: pool.CustomerID, Actor: a, Kind: models.AuditRecordingListened, Object: f.Path}); err != nil {
			t.Fatal(err)
		}
	}
	bctx := browsertest.New(t)
	var table string
	var listenRows int
	var poolLink string
	err = chromedp.Run(bctx,
		browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword),
		chromedp.Navigate(e.srv.URL+"/audit"),
		chromedp.WaitVisible(`[data-testid="audit-table"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="audit-table"]`, &table, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('tr[data-kind="recording.listened"]').length`, &listenRows),
		chromedp.AttributeValue(`tr[data-kind="settings.changed"] [data-testid="audit-subject"] a`, "href", &poolLink, nil, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Modul gebucht", "Einstellungen geändert", "Aufnahme angehört", "3-mal",
		"Call Recording · Pool Demo-Pool Stuttgart", "Aufzeichnung:", "Aus", "An", "Modus:", "manuell", "automatisch", "Deutsch",
		"Preis pro Monat:", "19,90\u00a0€", "Aufnahme " + seedName} {
		if !strings.Contains(table, want) {
			t.Errorf("audit log lacks %q:\n%s", want, table)
		}
	}
	for _, raw := range []string{"settings.changed", "price_cents", "recording.listened", "\"enabled\"", "true", "EUR"} {
		if strings.Contains(table, raw) {
			t.Errorf("audit log shows the raw %q", raw)
		}
	}
	if listenRows != 1 || poolLink != "/pools/"+strconv.FormatUint(uint64(pool.ID), 10) {
		t.Errorf("listened rows %d (want 1 folded), pool link %q", listenRows, poolLink)
	}
}
