package web

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"callrec/internal/browsertest"
)

// TestBrowserHome: after login a customer admin lands on the overview: the booked pool with its
// module state and today's call and recording; another customer's admin sees their unbooked
// pool with the next step; the platform admin sees the customers and the totals.
func TestBrowserHome(t *testing.T) {
	e := newEnv(t)
	pool := e.bookedPool()
	e.addRecording(pool, "home-1", seedName, time.Now().Add(-time.Minute), "49711218431440")
	ctx := browsertest.New(t)
	sel := `[data-testid="home-pool-` + strconv.Itoa(int(pool.ID)) + `"]`
	var module, callsToday, recToday, tileCalls, url string
	err := chromedp.Run(ctx,
		browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword),
		chromedp.WaitVisible(sel, chromedp.ByQuery),
		chromedp.Location(&url),
		chromedp.Text(sel+` [data-testid="home-module"]`, &module, chromedp.ByQuery),
		chromedp.Text(sel+` [data-testid="home-pool-calls-today"]`, &callsToday, chromedp.ByQuery),
		chromedp.Text(sel+` [data-testid="home-pool-recordings-today"]`, &recToday, chromedp.ByQuery),
		chromedp.Text(`[data-testid="home-calls-today"] .figure`, &tileCalls, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(url, "/") {
		t.Errorf("after login at %s, want the overview", url)
	}
	for _, want := range []string{"Call Recording", "An", "automatisch", "Stereo", "unbegrenzt"} {
		if !strings.Contains(module, want) {
			t.Errorf("module line %q lacks %q", module, want)
		}
	}
	if callsToday != "1" || recToday != "1" || tileCalls != "1" {
		t.Errorf("today: %s calls, %s recordings, tile %s; want 1, 1, 1", callsToday, recToday, tileCalls)
	}

	// The other customer's pool is not booked: the next step, with a link to book it.
	ctx2 := browsertest.New(t)
	var next string
	err = chromedp.Run(ctx2,
		browsertest.Login(e.srv.URL, e.otherAdmin, e.otherPW),
		browsertest.Language(e.srv.URL, "en"),
		chromedp.Navigate(e.srv.URL+"/"),
		chromedp.Text(`[data-testid="home-pool-`+strconv.Itoa(int(e.otherPool.ID))+`"] [data-testid="home-next-step"]`, &next, chromedp.ByQuery),
		chromedp.Click(`[data-testid="home-book"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="call-recording-book-form"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(next, "Next step") || !strings.Contains(next, "Book now") {
		t.Errorf("next step %q", next)
	}

	// The platform admin: customers with their booked pools, and the totals.
	ctx3 := browsertest.New(t)
	var customers, total string
	err = chromedp.Run(ctx3,
		browsertest.Login(e.srv.URL, "admin", "admin-password-1"),
		browsertest.Language(e.srv.URL, "de"),
		chromedp.Navigate(e.srv.URL+"/"),
		chromedp.WaitVisible(`[data-testid="home-customers"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="home-customers"]`, &customers, chromedp.ByQuery),
		chromedp.Text(`[data-testid="home-recordings-week"] .figure`, &total, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(customers, "Demo GmbH") || !strings.Contains(customers, "Other AG") || !strings.Contains(customers, "1 von 1") || total != "1" {
		t.Errorf("platform home: customers %q, recordings this week %q", customers, total)
	}
}
