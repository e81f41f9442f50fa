package web

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"callrec/internal/browsertest"
)

// TestBrowserPhoneMenuAndLanguage: on a phone the navigation folds under a menu button that
// opens it; the language menu changes nothing until its button is pressed (a keyboard user
// going through the choices is not sent to another page on every arrow key).
func TestBrowserPhoneMenuAndLanguage(t *testing.T) {
	e := newEnv(t)
	ctx := browsertest.New(t)
	var navShown, navOpen bool
	var expanded, lang, after string
	err := chromedp.Run(ctx,
		browsertest.Viewport(390, 844, true),
		browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword),
		chromedp.Navigate(e.srv.URL+"/account"),
		chromedp.WaitVisible(`[data-testid="menu-toggle"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#main-nav').offsetParent !== null`, &navShown),
		chromedp.Click(`[data-testid="menu-toggle"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="nav-pools"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#main-nav').offsetParent !== null`, &navOpen),
		chromedp.AttributeValue(`[data-testid="menu-toggle"]`, "aria-expanded", &expanded, nil, chromedp.ByQuery),
		// Choose English as a person does (the select's change event), then wait: nothing may load.
		chromedp.Evaluate(`(function(){var s=document.querySelector('[data-testid="language-select"]');s.value='en';
			s.dispatchEvent(new Event('input',{bubbles:true}));s.dispatchEvent(new Event('change',{bubbles:true}));return true})()`, nil),
		chromedp.Sleep(700*time.Millisecond),
		chromedp.AttributeValue(`html`, "lang", &lang, nil, chromedp.ByQuery),
		chromedp.Click(`[data-testid="language-apply"]`, chromedp.ByQuery),
		chromedp.WaitReady(`html[lang="en"]`, chromedp.ByQuery),
		chromedp.AttributeValue(`html`, "lang", &after, nil, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if navShown || !navOpen || expanded != "true" {
		t.Errorf("phone menu: shown before the button %v, after %v, aria-expanded %q", navShown, navOpen, expanded)
	}
	if lang != "de" || after != "en" {
		t.Errorf("language: %q after choosing, %q after the button; want de, then en", lang, after)
	}
	// At desktop width the navigation is always there and the button is not.
	var toggle bool
	err = chromedp.Run(ctx, browsertest.Viewport(1366, 900, false), chromedp.Navigate(e.srv.URL+"/account"),
		chromedp.WaitVisible(`[data-testid="nav-pools"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('[data-testid="menu-toggle"]').offsetParent !== null`, &toggle))
	if err != nil || toggle {
		t.Errorf("desktop: menu button shown %v (%v)", toggle, err)
	}
}
