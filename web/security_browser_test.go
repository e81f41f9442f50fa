package web

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"callrec/internal/browsertest"
)

// TestBrowserCSPStopsInjectedScripts: in Chromium, markup an attacker gets into a page cannot run
// script. An inline <script> and an inline event handler put into the page are refused by the
// Content-Security-Policy (and reported as violations), while the pages' own scripts run without
// a single violation: the language menu, whose inline onchange moved to app.js, still switches
// the language.
func TestBrowserCSPStopsInjectedScripts(t *testing.T) {
	e := newEnv(t)
	ctx := browsertest.New(t)
	// Every document records the violations it sees (DevTools' own script is not subject to CSP).
	err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`window.__csp = [];
			document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.effectiveDirective + " " + e.blockedURI));`).Do(ctx)
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx, browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/pools", "/pools/1", "/pools/1/edit", "/calls/live", "/calls", "/files/announcements",
		"/files/call_recording/337826/4971121843140", "/users", "/audit", "/account"} {
		var violations []string
		err := chromedp.Run(ctx,
			chromedp.Navigate(e.srv.URL+p),
			chromedp.WaitVisible(`footer`, chromedp.ByQuery),
			chromedp.Evaluate(`window.__csp`, &violations),
		)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(violations) > 0 {
			t.Errorf("%s: the page's own content broke the policy: %v", p, violations)
		}
	}
	var ran, handlerRan bool
	var violations []string
	err = chromedp.Run(ctx,
		chromedp.Navigate(e.srv.URL+"/pools"),
		chromedp.WaitVisible(`footer`, chromedp.ByQuery),
		chromedp.Evaluate(`(() => {
			const s = document.createElement("script");
			s.textContent = "window.__ran = true";
			document.body.appendChild(s);
			document.body.insertAdjacentHTML("beforeend", '<img src="/no-such-image" onerror="window.__handlerRan = true">');
		})()`, nil),
		chromedp.Sleep(500e6),
		chromedp.Evaluate(`window.__ran === true`, &ran),
		chromedp.Evaluate(`window.__handlerRan === true`, &handlerRan),
		chromedp.Evaluate(`window.__csp`, &violations),
	)
	if err != nil {
		t.Fatal(err)
	}
	if ran || handlerRan {
		t.Fatalf("injected script ran: inline %v, handler %v", ran, handlerRan)
	}
	if n := strings.Count(strings.Join(violations, "\n"), "script-src"); n < 2 {
		t.Fatalf("violations %v, want the inline script and the handler refused", violations)
	}
	var heading string
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`(() => {
			const sel = document.querySelector('[data-testid="language-select"]');
			sel.value = "en";
			sel.dispatchEvent(new Event("change", {bubbles: true}));
		})()`, nil),
		// The language menu waits for its button (TestBrowserPhoneMenuAndLanguage).
		chromedp.Click(`[data-testid="language-apply"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[text()="Number pools"]`),
		chromedp.Text(`h1`, &heading, chromedp.ByQuery),
		chromedp.Evaluate(`window.__csp`, &violations),
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(violations) > 0 {
		t.Fatalf("after switching the language: %v", violations)
	}
}

// TestBrowserNumbersFromOwnRanges: in Chromium, the platform admin gives a customer a range on
// the customer's numbers page; the customer admin sees its ranges on the new pool form, is refused
// a number outside them with the message beside the numbers field, and saves a pool of its own
// numbers.
func TestBrowserNumbersFromOwnRanges(t *testing.T) {
	e := newEnv(t)
	ctx := browsertest.New(t)
	cid := strconv.Itoa(int(e.demoPool().CustomerID))
	var ranges, help, numErr, numbers string
	err := chromedp.Run(ctx,
		browsertest.Login(e.srv.URL, "admin", "admin-password-1"),
		chromedp.Navigate(e.srv.URL+"/admin/customers/"+cid),
		chromedp.Click(`[data-testid="customer-numbers"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="range-form"]`, chromedp.ByQuery),
		chromedp.SendKeys(`#f-from`, "+49 711 218431 60", chromedp.ByQuery),
		chromedp.SendKeys(`#f-to`, "+49 711 218431 69", chromedp.ByQuery),
		chromedp.Click(`[data-testid="range-add"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="flash"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="ranges-table"]`, &ranges, chromedp.ByQuery),
		chromedp.Click(`[data-testid="logout"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="login-form"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ranges, "4971121843160–4971121843169") {
		t.Fatalf("ranges after assigning: %q", ranges)
	}
	err = chromedp.Run(ctx,
		browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword),
		chromedp.Navigate(e.srv.URL+"/pools/new"),
		chromedp.WaitVisible(`[data-testid="pool-form"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="pool-ranges"]`, &help, chromedp.ByQuery),
		chromedp.SendKeys(`#f-name`, "Hotline", chromedp.ByQuery),
		chromedp.SendKeys(`#f-start_number`, "4971121843160", chromedp.ByQuery),
		chromedp.SendKeys(`#f-numbers`, "4971121843160\n4930555001", chromedp.ByQuery),
		chromedp.SendKeys(`#f-destination`, "4915258878874", chromedp.ByQuery),
		chromedp.Click(`[data-testid="pool-save"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="error-numbers"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="error-numbers"]`, &numErr, chromedp.ByQuery),
		chromedp.SetValue(`#f-numbers`, "4971121843160\n4971121843161", chromedp.ByQuery),
		chromedp.Click(`[data-testid="pool-save"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="pool-numbers"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="pool-numbers"]`, &numbers, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(help, "497112184314…") || !strings.Contains(help, "4971121843160–4971121843169") {
		t.Errorf("pool form's ranges: %q", help)
	}
	if !strings.Contains(numErr, "gehört nicht zu Ihren Rufnummernblöcken") {
		t.Errorf("error beside the numbers: %q", numErr)
	}
	if numbers != "4971121843160, 4971121843161" {
		t.Errorf("saved pool's numbers: %q", numbers)
	}
}
