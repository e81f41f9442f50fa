package web

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"callrec/i18n"
	"callrec/internal/browsertest"
	"callrec/models"
)

// TestBrowserBookCallRecording walks a customer admin through the module in Chromium: booking
// asks to confirm with the price, without the confirmation is refused with the message beside
// the checkbox, booking with it shows the state and price, the mode changes, the confirmed cancel ends the booking, and
// booking again in English records the English notice.
func TestBrowserBookCallRecording(t *testing.T) {
	e := newBookingEnv(t)
	ctx := browsertest.New(t)
	pool := e.demoPool()
	url := e.srv.URL + "/pools/" + strconv.Itoa(int(pool.ID))

	dialogs := make(chan string, 8)
	chromedp.ListenTarget(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs <- d.Message
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(true))
		}
	})

	var besideCheckbox, invalid bool
	var errText string
	err := chromedp.Run(ctx,
		browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword),
		chromedp.Navigate(url),
		chromedp.WaitVisible(`[data-testid="legal-notice-text"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="call-recording-book"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="error-legal_notice_accepted"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="error-legal_notice_accepted"]`, &errText, chromedp.ByQuery),
		// "Beside the checkbox": the message directly follows the checkbox's field and the
		// checkbox points to it for screen readers.
		chromedp.Evaluate(`(() => {
			const box = document.getElementById("f-legal_notice_accepted");
			const msg = document.querySelector('[data-testid="error-legal_notice_accepted"]');
			return msg.previousElementSibling.contains(box) && box.getAttribute("aria-describedby") === msg.id;
		})()`, &besideCheckbox),
		chromedp.Evaluate(`document.getElementById("f-legal_notice_accepted").getAttribute("aria-invalid") === "true"`, &invalid),
	)
	if err != nil {
		t.Fatal(err)
	}
	if errText != i18n.TL("de", "error.legal_confirmation_required") || !besideCheckbox || !invalid {
		t.Fatalf("refusal: %q beside=%v invalid=%v", errText, besideCheckbox, invalid)
	}
	if cr, _ := e.store.CallRecordingOf(t.Context(), models.Actor{Role: models.RolePlatformAdmin}, pool.ID); cr.Booking != nil {
		t.Fatal("refused booking was stored")
	}

	// A message is in view where it belongs, not at the page's head (out of sight above).
	inView := func(sel string, ok *bool) chromedp.Action {
		return chromedp.Evaluate(`(() => {
			const m = document.querySelector(`+"`"+`#main > [data-testid="flash"]`+"`"+`);
			const f = document.querySelector('`+sel+`');
			if (m || !f) { return false; }
			const r = f.getBoundingClientRect();
			return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;
		})()`, ok)
	}
	var state, price, facts string
	var bookedInView, bookedSameDoc, annScripted bool
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`window.notReloaded = true`, nil),
		chromedp.Click(`#f-legal_notice_accepted`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="call-recording-book"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="call-recording-badge"][data-state="booked"]`, chromedp.ByQuery),
		chromedp.Evaluate(`window.notReloaded === true`, &bookedSameDoc),
		inView(`#call-recording #flash-call-recording`, &bookedInView),
		// The announcements arrived with the swap, and their script runs (it marks the window).
		chromedp.WaitVisible(`[data-testid="announcements"]`, chromedp.ByQuery),
		chromedp.Poll(`window.callrecAnnouncements === true`, &annScripted),
		chromedp.Text(`[data-testid="call-recording-state"]`, &state, chromedp.ByQuery),
		chromedp.Text(`[data-testid="call-recording-price"]`, &price, chromedp.ByQuery),
		chromedp.Text(`[data-testid="call-recording-facts"]`, &facts, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(state, "Gebucht seit") || !strings.Contains(state, e.demo.Admin) || !strings.Contains(price, "19,90\u00a0€ pro Monat") ||
		!strings.Contains(facts, "127.0.0.1") {
		t.Fatalf("booked: state %q price %q facts %q", state, price, facts)
	}
	if !bookedInView || !bookedSameDoc {
		t.Errorf("after booking: message in view in the module's section %v, answered in place (no reload) %v", bookedInView, bookedSameDoc)
	}
	// Each click on "Buchen" asked first, with the price (the refused one too: the browser asks
	// before it sends).
	wantAsk := i18n.TL("de", "booking.confirm_price", map[string]any{"Module": "Call Recording", "Price": "19,90\u00a0€"})
	for i := range 2 {
		if msg := <-dialogs; msg != wantAsk {
			t.Errorf("booking question %d: %q, want %q", i+1, msg, wantAsk)
		}
	}

	// Saving the settings answers in place: the page neither reloads nor jumps (the save button
	// stays in view), and the message stands beside the save button.
	var manual, savedInView, beside, sameDoc, buttonInView bool
	var hashBefore, hash string
	err = chromedp.Run(ctx,
		chromedp.Click(`#f-mode-manual`, chromedp.ByQuery),
		// Where a user would click it: in the middle of the screen (chromedp's ScrollIntoView puts
		// it at the top edge, where a fraction of a pixel decides "in view").
		chromedp.Evaluate(`document.querySelector('[data-testid="call-recording-settings-save"]').scrollIntoView({block: "center"})`, nil),
		chromedp.Evaluate(`window.notReloaded = true; location.hash`, &hashBefore),
		chromedp.Click(`[data-testid="call-recording-settings-save"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//p[@data-testid="flash" and contains(., "Einstellungen sind gespeichert")]`),
		chromedp.Evaluate(`window.notReloaded === true`, &sameDoc),
		chromedp.Evaluate(`(() => { const r = document.querySelector('[data-testid="call-recording-settings-save"]').getBoundingClientRect();
			return r.top >= 0 && r.bottom <= window.innerHeight })()`, &buttonInView),
		chromedp.Evaluate(`location.hash`, &hash),
		inView(`#flash-call-recording-settings`, &savedInView),
		chromedp.Evaluate(`document.getElementById("flash-call-recording-settings").parentElement.contains(
			document.querySelector('[data-testid="call-recording-settings-save"]'))`, &beside),
		chromedp.Evaluate(`document.getElementById("f-mode-manual").checked`, &manual),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !manual {
		t.Fatal("mode not manual after saving")
	}
	if !sameDoc || hash != hashBefore || !buttonInView || !savedInView || !beside {
		t.Errorf("saving the settings: same page %v, fragment %q -> %q, button in view %v, message in view %v, beside the button %v",
			sameDoc, hashBefore, hash, buttonInView, savedInView, beside)
	}

	var cancelSameDoc, cancelInView bool
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`window.notReloaded = true`, nil),
		chromedp.Click(`[data-testid="call-recording-cancel"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="call-recording-badge"][data-state="cancelled"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="call-recording-state"]`, &state, chromedp.ByQuery),
		chromedp.Evaluate(`window.notReloaded === true`, &cancelSameDoc),
		inView(`#call-recording #flash-call-recording`, &cancelInView),
	)
	if err != nil {
		t.Fatal(err)
	}
	if msg := <-dialogs; msg != i18n.TL("de", "booking.cancel_confirm_call_recording") {
		t.Errorf("confirmation dialog: %q", msg)
	}
	if !strings.Contains(state, "Gekündigt am") {
		t.Errorf("cancelled state: %q", state)
	}
	if !cancelSameDoc || !cancelInView {
		t.Errorf("after cancelling: answered in place %v, message in view %v", cancelSameDoc, cancelInView)
	}

	// In English: the notice is English, and the booking records it.
	var notice string
	err = chromedp.Run(ctx,
		chromedp.SetValue(`[data-testid="language-select"]`, "en", chromedp.ByQuery),
		chromedp.Submit(`[data-testid="language-form"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//button[@data-testid="call-recording-book" and contains(., "Book again")]`),
		chromedp.Text(`[data-testid="legal-notice-text"]`, &notice, chromedp.ByQuery),
		chromedp.Click(`#f-legal_notice_accepted`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="call-recording-book"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="call-recording-badge"][data-state="booked"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="call-recording-state"]`, &state, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	_, _, en := legalNotice("en")
	cr, _ := e.store.CallRecordingOf(t.Context(), models.Actor{Role: models.RolePlatformAdmin}, pool.ID)
	if !strings.HasPrefix(en.Text, notice) || !strings.Contains(state, "Booked since") || cr.Booking.NoticeLang != "en" ||
		cr.Booking.NoticeVersion != models.NoticeVersion(en.Text) || cr.Settings.Mode != models.ModeManual {
		t.Fatalf("English booking: notice %q state %q booking %+v", notice, state, cr.Booking)
	}

	// Every step is in the audit log.
	var rows int
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid="nav-audit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="audit-table"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('[data-testid="audit-table"] tbody tr').length`, &rows),
	)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 4 {
		t.Errorf("audit log rows: %d, want 4 (booked, settings, cancelled, booked)", rows)
	}
}
