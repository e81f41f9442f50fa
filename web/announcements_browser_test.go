package web

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"callrec/i18n"
	"callrec/internal/browsertest"
	"callrec/internal/testtool"
	"callrec/models"
)

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// TestBrowserAnnouncementFromMP3 is the "done when" in Chromium: a customer admin uploads
// an MP3 (progress bar), which is converted with the upload (the convert button stays), chooses it as the caller notice on the pool
// page and plays it in the slot's player.
func TestBrowserAnnouncementFromMP3(t *testing.T) {
	sox := testtool.Need(t, "sox", "sox")
	mp3 := filepath.Join(t.TempDir(), "Hinweis Anrufer.mp3")
	if out, err := exec.Command(sox, "-n", "-r", "44100", "-c", "2", mp3, "synth", "3", "sine", "440", "vol", "0.5").CombinedOutput(); err != nil {
		if testtool.E2E() {
			t.Fatalf("sox cannot write MP3 (install libsox-fmt-mp3): %v %s", err, out)
		}
		t.Skipf("sox cannot write MP3 (install libsox-fmt-mp3): %v %s", err, out)
	}
	e := annEnv(t, nil)
	pool := e.bookedPool()
	ctx := browsertest.New(t)

	var maxProgress, flash string
	err := chromedp.Run(ctx,
		browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword),
		chromedp.Navigate(e.srv.URL+"/files/announcements"),
		chromedp.WaitVisible(`[data-testid="upload-form"]`, chromedp.ByQuery),
		// Remember the highest value the progress bar showed; the page reloads after the upload.
		chromedp.Evaluate(`(() => {
			sessionStorage.setItem("maxProgress", "0");
			const bar = document.querySelector('[data-testid="upload-progress"]');
			new MutationObserver(() => {
				if (bar.value > Number(sessionStorage.getItem("maxProgress"))) sessionStorage.setItem("maxProgress", String(bar.value));
			}).observe(bar, {attributes: true});
		})()`, nil),
		chromedp.SetUploadFiles(`#f-file`, []string{mp3}, chromedp.ByQuery),
		chromedp.Click(`[data-testid="upload-submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-name="Hinweis_Anrufer.mp3"] [data-testid="file-convert"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-name="Hinweis_Anrufer.wav"] [data-testid="file-ready"]`, chromedp.ByQuery),
		chromedp.Evaluate(`sessionStorage.getItem("maxProgress")`, &maxProgress),
		chromedp.Text(`[data-testid="flash"]`, &flash, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if flash != i18n.TL("de", "announce.uploaded_converted") {
		t.Errorf("after the upload the page says %q", flash)
	}
	if maxProgress != "100" {
		t.Errorf("progress bar reached %s, want 100", maxProgress)
	}

	var format string
	err = chromedp.Run(ctx, // converted with the upload: no click needed
		chromedp.Text(`[data-name="Hinweis_Anrufer.wav"] [data-testid="file-format"]`, &format, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if format != "pcm 8-bit · 16\u00a0kHz · 1 ch" {
		t.Errorf("converted format shown as %q", format)
	}
	fs, err := e.store.AnnouncementFiles(context.Background(), models.Actor{Role: models.RolePlatformAdmin})
	if err != nil || len(fs) != 2 || fs[0].Name != "Hinweis_Anrufer.mp3" || fs[1].Name != "Hinweis_Anrufer.wav" {
		t.Fatalf("files %+v %v", fs, err)
	}
	conv := fs[1]

	var source, answer string
	var playing bool
	err = chromedp.Run(ctx,
		chromedp.Navigate(e.srv.URL+"/pools/"+strconv.Itoa(int(pool.ID))),
		chromedp.WaitVisible(`[data-testid="ann-form-caller_notice"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="ann-src-caller_notice-file"]`, chromedp.ByQuery),
		chromedp.SetValue(`#f-caller_notice-file`, strconv.Itoa(int(conv.ID)), chromedp.ByQuery),
		chromedp.Click(`[data-testid="ann-save-caller_notice"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="ann-slot-caller_notice"] [role="status"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="ann-source-caller_notice"]`, &source, chromedp.ByQuery),
		// The player's URL answers with the WAV callers hear...
		chromedp.Evaluate(`fetch(document.querySelector('[data-testid="ann-audio-caller_notice"]').src)
			.then(r => r.status + " " + r.headers.get("Content-Type") + " " + r.headers.get("Content-Length"))`, &answer, awaitPromise),
		// ...and it plays: the element loads it and its clock advances.
		chromedp.Evaluate(`document.querySelector('[data-testid="ann-audio-caller_notice"]').play().then(() => true)`, &playing, awaitPromise),
		chromedp.Poll(`(() => { const a = document.querySelector('[data-testid="ann-audio-caller_notice"]'); return a.readyState >= 2 && a.currentTime > 0.3; })()`,
			nil, chromedp.WithPollingTimeout(20*time.Second)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if source != i18n.TL("de", "announce.source_file")+" Hinweis_Anrufer.wav" && !strings.HasPrefix(source, i18n.TL("de", "announce.source_file")) {
		t.Errorf("slot source shown as %q", source)
	}
	if answer != "200 audio/wav "+strconv.FormatInt(conv.Size, 10) {
		t.Errorf("player URL answered %q, want 200 audio/wav %d", answer, conv.Size)
	}
	if !playing {
		t.Error("play() did not resolve")
	}
	paths, _ := e.store.AnnouncementAudio(context.Background(), pool.ID, "de")
	if paths["caller_notice"] != conv.Path {
		t.Errorf("engine would play %q, want %q", paths["caller_notice"], conv.Path)
	}
}

// TestBrowserAnnouncementTooLarge: a file over the upload limit is refused with the localized
// message, by the page before sending and by the server (413) when the page's check is bypassed.
func TestBrowserAnnouncementTooLarge(t *testing.T) {
	e := annEnv(t, func(c *Config) { c.MaxUpload = 5000 })
	big := filepath.Join(t.TempDir(), "big.wav")
	if err := os.WriteFile(big, wavPCM16(16000, 1, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t)
	var before, after string
	err := chromedp.Run(ctx,
		browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword),
		chromedp.Navigate(e.srv.URL+"/files/announcements"),
		chromedp.WaitVisible(`[data-testid="upload-form"]`, chromedp.ByQuery),
		chromedp.SetUploadFiles(`#f-file`, []string{big}, chromedp.ByQuery),
		chromedp.Click(`[data-testid="upload-submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="upload-error"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="upload-error"]`, &before, chromedp.ByQuery),
		chromedp.Evaluate(`(() => {
			const f = document.querySelector('[data-testid="upload-form"]');
			f.removeAttribute("data-max-bytes");
			document.querySelector('[data-testid="upload-error"]').textContent = "";
		})()`, nil),
		chromedp.Click(`[data-testid="upload-submit"]`, chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('[data-testid="upload-error"]').textContent !== ""`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Text(`[data-testid="upload-error"]`, &after, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := i18n.TL("de", "error.file_too_large")
	if before != want || after != want {
		t.Fatalf("messages %q / %q, want %q", before, after, want)
	}
	if names := e.annDir(); len(names) != 0 {
		t.Fatalf("left behind: %v", names)
	}
}

// TestBrowserAnnouncementTextInView: on a phone (390 px) and at 1366 px an announcement's text
// box is as wide as its card and tall enough to show the whole text (the caller notice's default,
// the longest) without scrolling.
func TestBrowserAnnouncementTextInView(t *testing.T) {
	// The product document's caller notice, the longest standard text.
	const callerNotice = "Das nachfolgende Gespräch möchten wir gerne zum Zwecke der Qualitätssicherung aufzeichnen. " +
		"Wenn Sie dies nicht wünschen, drücken Sie jetzt die ‚Sterntaste‘ auf Ihrer Telefontastatur oder geben Sie unserem Mitarbeiter einen Hinweis im Gespräch."
	e := annEnv(t, nil)
	pool := e.bookedPool()
	ctx := browsertest.New(t)
	if err := chromedp.Run(ctx, browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword)); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int64{390, 1366} {
		var boxes []struct {
			Slot           string
			Scroll, Client float64
			Width, Parent  float64
		}
		err := chromedp.Run(ctx, browsertest.Viewport(w, 844, w < 600),
			chromedp.Navigate(e.srv.URL+"/pools/"+strconv.Itoa(int(pool.ID))),
			chromedp.Click(`[data-testid="ann-src-caller_notice-text"]`, chromedp.ByQuery), // the text box shows for "own text"
			chromedp.WaitVisible(`[data-testid="ann-text-caller_notice"]`, chromedp.ByQuery),
			chromedp.SetValue(`[data-testid="ann-text-caller_notice"]`, callerNotice, chromedp.ByQuery),
			chromedp.Evaluate(`Array.from(document.querySelectorAll('textarea[name="text"]')).filter(a => a.offsetParent).map(a => ({
				slot: a.id, scroll: a.scrollHeight, client: a.clientHeight,
				width: a.getBoundingClientRect().width, parent: a.parentElement.getBoundingClientRect().width}))`, &boxes))
		if err != nil {
			t.Fatal(err)
		}
		if len(boxes) == 0 {
			t.Fatalf("%d px: no announcement text box", w)
		}
		for _, b := range boxes {
			if b.Scroll > b.Client+1 || b.Width < b.Parent*0.95 {
				t.Errorf("%d px: %s shows %.0f of %.0f px of its text, is %.0f px wide in %.0f", w, b.Slot, b.Client, b.Scroll, b.Width, b.Parent)
			}
		}
	}
}
