package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"callrec/internal/browsertest"
)

// TestBrowserLoginLanguageAndPool is the foundation's walk-through in a real browser: log in,
// switch the UI to English and back to German, and see the demo customer's pool.
func TestBrowserLoginLanguageAndPool(t *testing.T) {
	e := newEnv(t)
	ctx := browsertest.New(t)
	var heading, pools, pool string
	err := chromedp.Run(ctx,
		browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword),
		chromedp.Navigate(e.srv.URL+"/pools"),
		chromedp.Text(`h1`, &heading, chromedp.NodeVisible),
	)
	if err != nil {
		t.Fatal(err)
	}
	if heading != "Rufnummernpools" {
		t.Fatalf("German heading = %q", heading)
	}
	err = chromedp.Run(ctx,
		chromedp.SetValue(`[data-testid="language-select"]`, "en", chromedp.ByQuery),
		chromedp.Submit(`[data-testid="language-form"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[text()="Number pools"]`),
		chromedp.Text(`[data-testid="pools-table"]`, &pools, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pools, "Demo-Pool Stuttgart") || !strings.Contains(pools, "4971121843140") {
		t.Fatalf("pool table in English: %q", pools)
	}
	err = chromedp.Run(ctx,
		chromedp.SetValue(`[data-testid="language-select"]`, "de", chromedp.ByQuery),
		chromedp.Submit(`[data-testid="language-form"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[text()="Rufnummernpools"]`),
		chromedp.Click(`//a[text()="Demo-Pool Stuttgart"]`),
		chromedp.WaitVisible(`[data-testid="pool-numbers"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="pool-numbers"]`, &pool, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pool, "49711218431431") {
		t.Fatalf("pool numbers = %q", pool)
	}
}
