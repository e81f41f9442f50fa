// Package browsertest drives Debian's headless Chromium with chromedp for the tests of pages a
// person uses. Without chromium the test is skipped, or fails when CALLREC_E2E=1.
package browsertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"callrec/internal/testtool"
)

// New starts a fresh headless Chromium (own user-data-dir, no network chatter) and returns a
// context for chromedp.Run, with an overall deadline. The browser closes when the test ends.
func New(t testing.TB) context.Context {
	t.Helper()
	path := testtool.Need(t, "chromium", "chromium")
	// Not t.TempDir: Chromium may still write its profile while the browser shuts down, which
	// makes the testing package's own removal fail; we remove it ourselves, with retries.
	profile, err := os.MkdirTemp("", "callrec-chromium-*")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-crash-reporter", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelC()
		cancelB()
		cancelA()
		for i := 0; i < 20; i++ {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the browser profile %s", profile)
	})
	if err := chromedp.Run(ctx); err != nil { // launch now so a broken browser fails here
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// Login signs in through the login form at base and waits for the page after it.
func Login(base, user, password string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Navigate(base + "/login"),
		chromedp.WaitVisible(`[data-testid="login-form"]`),
		chromedp.SendKeys(`#f-username`, user),
		chromedp.SendKeys(`#f-password`, password),
		chromedp.Click(`[data-testid="login-submit"]`),
		// Present, not visible: on a phone the logout button is folded under the menu.
		chromedp.WaitReady(`[data-testid="logout"]`),
	}
}

// Text reads the text content of the first element matching sel.
func Text(sel string, out *string) chromedp.Action {
	return chromedp.Text(sel, out, chromedp.NodeVisible)
}

// Language switches the UI language with the language form of the page footer (at base's
// account page) and waits until a page in that language has loaded.
func Language(base, lang string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Navigate(base + "/account"),
		chromedp.WaitVisible(`[data-testid="language-form"]`, chromedp.ByQuery),
		chromedp.SetValue(`[data-testid="language-select"]`, lang, chromedp.ByQuery),
		chromedp.Submit(`[data-testid="language-form"]`, chromedp.ByQuery),
		chromedp.WaitReady(`html[lang="`+lang+`"]`, chromedp.ByQuery),
	}
}
