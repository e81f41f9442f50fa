package web

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"callrec/i18n"
	"callrec/internal/browsertest"
	"callrec/models"
)

// TestBrowserRecordingPlayAndSeek is the File Browser as an authorized person uses it: open
// Administration > File Browser, walk the folders, find yesterday's recording by number, open it,
// play it, seek by clicking the waveform and by a consent-trail time, and check the listen was
// audited once.
func TestBrowserRecordingPlayAndSeek(t *testing.T) {
	e := newEnv(t)
	yesterday := time.Now().Add(-24 * time.Hour)
	oldID := e.addRecording(e.demoPool(), "old", "rec_20250101_120000_337826_4971121843140_4917111_49711218431431_4915258878874.wav", yesterday.Add(-time.Hour), "4917111")
	id := e.addRecording(e.demoPool(), "c1", seedName, yesterday, "49711218431440")
	ctx := browsertest.New(t)
	var rows, name string
	err := chromedp.Run(ctx,
		browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword),
		chromedp.Click(`[data-testid="nav-files"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="folder-call_recording"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="folder-337826"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="folder-4971121843140"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="files-table"]`, chromedp.ByQuery),
		chromedp.SendKeys(`#f-number`, "+49 711 21843144", chromedp.ByQuery),
		chromedp.Click(`[data-testid="files-filter-submit"]`, chromedp.ByQuery),
		// The filtered page has loaded once the other caller's row is gone (both rows are on the
		// unfiltered page, so waiting for ours alone could read the page before the filter).
		chromedp.WaitNotPresent(`[data-testid="file-row-`+strconv.Itoa(int(oldID))+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="file-row-`+strconv.Itoa(int(id))+`"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="files-table"] tbody`, &rows, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rows, "4917111") || !strings.Contains(rows, "49711218431440") {
		t.Fatalf("filtered rows %q", rows)
	}
	// The list's play button plays the row's recording in place, marked as pressed, and a second
	// click pauses it.
	var pressed, released string
	play := `[data-testid="play-` + strconv.Itoa(int(id)) + `"]`
	err = chromedp.Run(ctx,
		chromedp.Click(play, chromedp.ByQuery),
		chromedp.Poll(`(() => { const a = document.querySelector('audio.list-player'); return a.currentTime > 0.3 && a.src.endsWith("/recordings/`+strconv.Itoa(int(id))+`/audio"); })()`,
			nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.AttributeValue(play, "aria-pressed", &pressed, nil, chromedp.ByQuery),
		chromedp.Click(play, chromedp.ByQuery),
		// The button follows the audio element's pause event, which comes a moment after paused.
		chromedp.Poll(`document.querySelector('audio.list-player').paused && document.querySelector('`+play+`').getAttribute("aria-pressed") === "false"`,
			nil, chromedp.WithPollingTimeout(5*time.Second)),
		chromedp.AttributeValue(play, "aria-pressed", &released, nil, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("the list's play button: %v", err)
	}
	if pressed != "true" || released != "false" {
		t.Errorf("the list's play button: aria-pressed %q while playing, %q paused", pressed, released)
	}
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid="file-row-`+strconv.Itoa(int(id))+`"] a`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="waveform"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="recording-name"]`, &name, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if name != seedName {
		t.Fatalf("page of %q", name)
	}
	// Play from the start until time moves.
	var playing bool
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`document.querySelector('audio').play().then(()=>true)`, nil, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		chromedp.Poll(`document.querySelector('audio').currentTime > 0.3`, &playing, chromedp.WithPollingTimeout(20*time.Second)),
	)
	if err != nil || !playing {
		t.Fatalf("playing: %v", err)
	}
	// Seek: a click at 75% of the waveform's width.
	var at, dur float64
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`(function(){var s=document.querySelector('svg.waveform').getBoundingClientRect();
			var ev=new MouseEvent('click',{clientX:s.left+s.width*0.75,clientY:s.top+s.height/2,bubbles:true});
			document.querySelector('svg.waveform').dispatchEvent(ev);return true})()`, nil),
		chromedp.Poll(`(function(){var a=document.querySelector('audio');return !a.seeking && a.currentTime>=2.9})()`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`document.querySelector('audio').currentTime`, &at),
		chromedp.Evaluate(`document.querySelector('audio').duration`, &dur),
	)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(dur-4) > 0.05 || at < 2.9 || at > 4 {
		t.Fatalf("after seeking to 75%%: at %.2f of %.2f", at, dur)
	}
	// Seek by the trail: the third event (#1 pressed) is at 0:02 of the file.
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`document.querySelector('audio').pause()`, nil),
		chromedp.Click(`[data-testid="trail-event"]:nth-child(3) button.seek`, chromedp.ByQuery),
		chromedp.Poll(`(function(){var a=document.querySelector('audio');return !a.seeking && Math.abs(a.currentTime-2)<0.5})()`, nil, chromedp.WithPollingTimeout(20*time.Second)),
	)
	if err != nil {
		t.Fatal(err)
	}
	// Seek by keyboard: the waveform is a slider; End goes to the end, Home back to the start.
	var valueNow string
	err = chromedp.Run(ctx,
		chromedp.Focus(`svg.waveform`, chromedp.ByQuery),
		chromedp.KeyEvent(kb.End),
		chromedp.Poll(`(function(){var a=document.querySelector('audio');return !a.seeking && a.currentTime>3.5})()`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.KeyEvent(kb.Home),
		chromedp.Poll(`(function(){var a=document.querySelector('audio');return !a.seeking && a.currentTime<1})()`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`document.querySelector('audio').pause()`, nil),
		chromedp.KeyEvent(kb.ArrowRight),
		chromedp.Poll(`(function(){var a=document.querySelector('audio');return !a.seeking && a.currentTime>=2.9})()`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.AttributeValue(`svg.waveform`, "aria-valuenow", &valueNow, nil, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("keyboard seeking: %v", err)
	}
	if valueNow == "0" {
		t.Errorf("the slider's value stayed at 0 after seeking")
	}
	if n := e.auditCount(models.AuditRecordingListened); n < 1 {
		t.Fatalf("%d listen events", n)
	}
}

// TestBrowserBulkDelete selects two of three recordings in the list and deletes them with the
// bulk action: the button asks first, the form carries its CSRF token (a field outside the
// cached list, tied to the form by its form attribute), and the list shows what is left.
func TestBrowserBulkDelete(t *testing.T) {
	e := newEnv(t)
	pool := e.demoPool()
	at := time.Date(2026, 11, 19, 9, 0, 0, 0, time.UTC)
	var ids [3]uint
	for i := range ids {
		ids[i] = e.addRecording(pool, "b"+strconv.Itoa(i), "rec_bulk_"+strconv.Itoa(i)+".wav", at.Add(time.Duration(i)*time.Minute), "491700000"+strconv.Itoa(i))
	}
	ctx := browsertest.New(t)
	dialogs := make(chan string, 4)
	chromedp.ListenTarget(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs <- d.Message
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(true))
		}
	})
	row := func(id uint) string { return `[data-testid="file-row-` + strconv.Itoa(int(id)) + `"]` }
	var total string
	err := chromedp.Run(ctx,
		browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword),
		chromedp.Navigate(e.srv.URL+"/files/call_recording/337826/4971121843140/"),
		chromedp.WaitVisible(row(ids[2]), chromedp.ByQuery),
		chromedp.Click(`[data-testid="select-`+strconv.Itoa(int(ids[0]))+`"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="select-`+strconv.Itoa(int(ids[1]))+`"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="bulk-confirm"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="bulk-delete"]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(row(ids[0]), chromedp.ByQuery),
		chromedp.WaitVisible(row(ids[2]), chromedp.ByQuery),
		chromedp.Text(`[data-testid="files-total"]`, &total, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-dialogs:
		if msg != i18n.TL("de", "files.really_delete_selected") {
			t.Errorf("asked %q", msg)
		}
	default:
		t.Error("the bulk delete did not ask")
	}
	if total != "1 Aufnahme" {
		t.Errorf("total after the delete: %q", total)
	}
	root := models.Actor{Role: models.RolePlatformAdmin}
	for i, id := range ids {
		_, err := e.store.FileByID(context.Background(), root, id)
		if gone := errors.Is(err, models.ErrNotFound); gone != (i < 2) {
			t.Errorf("recording %d: gone %v (%v)", i, gone, err)
		}
	}
}
