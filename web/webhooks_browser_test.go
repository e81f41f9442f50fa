package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"callrec/i18n"
	"callrec/internal/browsertest"
	"callrec/internal/webhooks"
)

// TestBrowserWebhooks: a customer admin in Chromium finds Webhooks in the navigation, registers
// a receiver, reads the secret on its page and sends a test event; the receiver, which checks
// the signature with that secret, first answers 500: the delivery log says pending with the
// answer, "send again" sends it at once, and after the 200 the log says delivered.
func TestBrowserWebhooks(t *testing.T) {
	var mu sync.Mutex
	var secret string
	var got []error
	code := http.StatusInternalServerError
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, webhooks.Verify(secret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, time.Now()))
		w.WriteHeader(code)
	}))
	defer rcv.Close()
	// No retries by themselves during the test: only "send again" makes the second attempt.
	w := &webhooks.Worker{AllowInsecure: true, Retry: func(int) time.Duration { return time.Hour }}
	e := newEnvWith(t, func(c *Config) { c.WebhookAllowInsecure, c.WebhookKick = true, w.Kick })
	w.Store = e.store
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	defer func() { stop(); <-done }()

	ctx := browsertest.New(t)
	var pageSecret, status string
	err := chromedp.Run(ctx,
		browsertest.Login(e.srv.URL, e.demo.Admin, e.demo.AdminPassword),
		chromedp.Click(`[data-testid="nav-webhooks"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="webhook-create-form"]`, chromedp.ByQuery),
		chromedp.SendKeys(`#f-url`, rcv.URL+"/hook", chromedp.ByQuery),
		chromedp.Click(`[data-testid="webhook-event-call.ended"]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid="webhook-create"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="webhook-secret"]`, chromedp.ByQuery),
		chromedp.Text(`[data-testid="webhook-secret"]`, &pageSecret, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pageSecret, "whsec_") {
		t.Fatalf("secret on the page: %q", pageSecret)
	}
	mu.Lock()
	secret = pageSecret
	mu.Unlock()
	waitStatus := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if err := chromedp.Run(ctx, chromedp.Reload(), chromedp.WaitVisible(`[data-testid="webhook-page"]`, chromedp.ByQuery),
				chromedp.Evaluate(`(document.querySelector('[data-testid="delivery-status"]')||{}).textContent||""`, &status)); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(status, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("delivery status %q, want %q", status, want)
			}
		}
	}
	// The page already shows the flash of the creation: wait for the test's own.
	if err := chromedp.Run(ctx, chromedp.Click(`[data-testid="webhook-test"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//*[@data-testid="flash" and contains(., "`+i18n.TL("de", "webhooks.flash.test_sent")+`")]`)); err != nil {
		t.Fatal(err)
	}
	waitStatus("HTTP 500")
	if !strings.Contains(status, "Ausstehend") {
		t.Fatalf("after a 500: %q", status)
	}
	mu.Lock()
	code = http.StatusOK
	mu.Unlock()
	if err := chromedp.Run(ctx, chromedp.Click(`[data-testid="delivery-send-again"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//*[@data-testid="flash" and contains(., "`+i18n.TL("de", "webhooks.flash.sent_again")+`")]`)); err != nil {
		t.Fatal(err)
	}
	waitStatus("Zugestellt")
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != nil || got[1] != nil {
		t.Fatalf("receiver's checks: %v", got)
	}
}
