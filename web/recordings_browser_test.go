package web

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

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
		chromedp.Click(`[data-testid="file-row-`+strconv.Itoa(int(id))+`"] a`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="waveform"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="recording-name"]`, &name, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rows, "4917111") || !strings.Contains(rows, "49711218431440") || name != seedName {
		t.Fatalf("filtered rows %q, page of %q", rows, name)
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
	if n := e.auditCount(models.AuditRecordingListened); n < 1 {
		t.Fatalf("%d listen events", n)
	}
}
