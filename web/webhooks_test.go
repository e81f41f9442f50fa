package web

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/models"
)

// TestWebhooksPageAndAPI: a customer admin registers, edits, tests and deletes an endpoint on
// the page and through the API; agents are refused (403), the platform admin finds nothing
// (404), another customer's endpoint is a 404, and URLs that must not be used are refused with
// their field error.
func TestWebhooksPageAndAPI(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.WebhookAllowInsecure = false })
	admin := e.admin()
	if st, body := admin.get("/webhooks"); st != 200 || !strings.Contains(body, `data-testid="webhooks-empty"`) || !strings.Contains(body, `href="/webhooks"`) {
		t.Fatalf("webhooks page: %d\n%s", st, body)
	}
	for _, bad := range []struct{ url, key string }{
		{"http://crm.example.com/hook", "error.webhook_url_insecure"},
		{"https://10.1.2.3/hook", "error.webhook_url_private"},
		{"https://[::1]/hook", "error.webhook_url_private"},
		{"https://169.254.169.254/latest", "error.webhook_url_private"},
		{"ftp://example.com/", "error.webhook_url_invalid"},
		{"https://user:pw@example.com/", "error.webhook_url_invalid"},
	} {
		st, body, _ := admin.post("/webhooks", url.Values{"url": {bad.url}, "events": {models.EventRecordingCompleted}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="error-url"`) {
			t.Fatalf("%s: %d\n%s", bad.url, st, body)
		}
	}
	if st, body, _ := admin.post("/webhooks", url.Values{"url": {"https://crm.example.com/hook"}}); st != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="error-events"`) {
		t.Fatalf("no events: %d\n%s", st, body)
	}
	st, _, loc := admin.post("/webhooks", url.Values{"url": {"https://crm.example.com/hook"}, "description": {"CRM"},
		"events": {models.EventRecordingCompleted, models.EventCallEnded}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/webhooks/") {
		t.Fatalf("create: %d %s", st, loc)
	}
	st, body := admin.get(loc)
	if st != 200 || !strings.Contains(body, "whsec_") || !strings.Contains(body, `data-testid="webhook-log-empty"`) {
		t.Fatalf("endpoint page: %d\n%s", st, body)
	}
	if st, _, _ := admin.post(loc+"/test", nil); st != http.StatusSeeOther {
		t.Fatalf("test: %d", st)
	}
	if _, body := admin.get(loc); !strings.Contains(body, "webhook.test") || !strings.Contains(body, `data-testid="delivery-send-again"`) {
		t.Fatalf("log after test:\n%s", body)
	}
	if st, _ := e.agent().get(loc); st != http.StatusForbidden {
		t.Fatalf("agent: %d", st)
	}
	if st, _ := e.platform().get("/webhooks"); st != http.StatusNotFound {
		t.Fatalf("platform admin: %d", st)
	}

	// The API: list without secrets, one with it, rotate keeps the old one valid a while.
	tok := e.token(e.demo.Admin)
	var list []webhookJSON
	if st := e.api(tok, "GET", "/webhooks", nil, &list); st != 200 || len(list) != 1 || list[0].Secret != "" || list[0].Description != "CRM" {
		t.Fatalf("list: %d %+v", st, list)
	}
	id := strconv.Itoa(int(list[0].ID))
	var one webhookJSON
	if st := e.api(tok, "GET", "/webhooks/"+id, nil, &one); st != 200 || !strings.HasPrefix(one.Secret, "whsec_") {
		t.Fatalf("one: %d %+v", st, one)
	}
	var rotated webhookJSON
	if st := e.api(tok, "POST", "/webhooks/"+id+"/rotate-secret", nil, &rotated); st != 200 || rotated.Secret == one.Secret || rotated.PrevUntil == nil {
		t.Fatalf("rotate: %d %+v", st, rotated)
	}
	var patched webhookJSON
	if st := e.api(tok, "PATCH", "/webhooks/"+id, map[string]any{"events": []string{"recording.deleted"}, "enabled": false}, &patched); st != 200 ||
		patched.Enabled || len(patched.Events) != 1 {
		t.Fatalf("patch: %d %+v", st, patched)
	}
	var ae apiErrorBody
	if st := e.api(tok, "PATCH", "/webhooks/"+id, map[string]any{"events": []string{"call.started"}}, &ae); st != 422 || ae.Error.Code != "webhook_event_invalid" {
		t.Fatalf("bad event: %d %+v", st, ae)
	}
	if st := e.api(tok, "POST", "/webhooks", map[string]any{"url": "http://x.example.com/", "events": []string{"call.ended"}}, &ae); st != 422 || ae.Error.Code != "webhook_url_insecure" {
		t.Fatalf("insecure: %d %+v", st, ae)
	}
	var ds []deliveryJSON
	if st := e.api(tok, "GET", "/webhooks/"+id+"/deliveries", nil, &ds); st != 200 || len(ds) != 1 || ds[0].Event != "webhook.test" || !strings.HasPrefix(ds[0].MsgID, "msg_") {
		t.Fatalf("deliveries: %d %+v", st, ds)
	}
	other := e.token(e.otherAdmin)
	if st := e.api(other, "GET", "/webhooks/"+id, nil, &ae); st != 404 {
		t.Fatalf("other customer: %d", st)
	}
	if st := e.api(other, "DELETE", "/webhooks/"+id, nil, nil); st != 404 {
		t.Fatalf("other customer delete: %d", st)
	}
	if st := e.api(tok, "DELETE", "/webhooks/"+id, nil, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if n := e.auditCount(models.AuditWebhookCreated); n != 1 {
		t.Fatalf("%d webhook.created events", n)
	}
}

// TestSignedDownloadLink: a webhook's signed link fetches the audio without a token and is
// audited; a changed signature or id, an expired link and a deleted recording are refused.
func TestSignedDownloadLink(t *testing.T) {
	e := newEnv(t)
	id := e.addRecording(e.demoPool(), "c1", seedName, time.Now().Add(-time.Hour), "49711218431440")
	ctx := context.Background()
	q, err := e.store.SignRecordingLink(ctx, id, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/recordings/" + strconv.Itoa(int(id)) + "/audio?" + q
	anon := e.client()
	st, h, b := anon.raw("GET", path, nil)
	full, _ := os.ReadFile(filepath.Join(e.dir, "call_recording/337826/4971121843140", seedName))
	if st != 200 || h.Get("Content-Type") != "audio/wav" || len(b) != len(full) {
		t.Fatalf("signed link: %d %v %d bytes", st, h, len(b))
	}
	var audit int
	_ = e.store.EachAuditEvent(ctx, models.Actor{Role: models.RolePlatformAdmin}, models.AuditFilter{Kind: models.AuditRecordingListened}, func(ev models.AuditEvent) error {
		if ev.Username == "signed link" && strings.HasSuffix(ev.Object, seedName) {
			audit++
		}
		return nil
	})
	if audit != 1 {
		t.Fatalf("%d audit events of the signed link", audit)
	}
	// Another recording's id with this signature, a changed signature, no token at all.
	other := e.addRecording(e.demoPool(), "c2", strings.Replace(seedName, "150222", "150223", 1), time.Now().Add(-time.Hour), "49711218431440")
	for _, p := range []string{
		"/api/v1/recordings/" + strconv.Itoa(int(other)) + "/audio?" + q,
		path[:len(path)-2] + "xx",
	} {
		if st, _, b := anon.raw("GET", p, nil); st != 403 || !strings.Contains(string(b), "link_invalid") {
			t.Fatalf("%s: %d %s", p, st, b)
		}
	}
	if st, _, _ := anon.raw("GET", "/api/v1/recordings/"+strconv.Itoa(int(id))+"/audio", nil); st != 401 {
		t.Fatalf("no token, no link: %d", st)
	}
	// The link does not open anything else.
	if st, _, _ := anon.raw("GET", "/api/v1/recordings/"+strconv.Itoa(int(id))+"?"+q, nil); st != 401 {
		t.Fatalf("link on the recording's JSON: %d", st)
	}
	e.store.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if st, _, b := anon.raw("GET", path, nil); st != 403 || !strings.Contains(string(b), "link_expired") {
		t.Fatalf("expired: %d %s", st, b)
	}
	e.store.Now = time.Now
	if st := e.api(e.token(e.demo.Admin), "DELETE", "/recordings/"+strconv.Itoa(int(id)), nil, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _, _ := anon.raw("GET", path, nil); st != 404 {
		t.Fatalf("after deletion: %d", st)
	}
}

// TestWebhookDisabledNotice: an endpoint the system disabled after 3 days of failures says so
// on its page and in the list, and switching it on again clears the notice.
func TestWebhookDisabledNotice(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, err := e.store.UserByName(ctx, e.demo.Admin)
	if err != nil {
		t.Fatal(err)
	}
	a := models.ActorOf(u)
	link := "https://crm.example.com/hook"
	ep, err := e.store.CreateWebhook(ctx, a, "", models.WebhookInput{URL: &link, Events: []string{models.EventCallEnded}}, models.WebhookURLPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.SendTestWebhook(ctx, a, ep.ID); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for _, at := range []time.Time{t0, t0.Add(72 * time.Hour)} {
		due, err := e.store.DueWebhookDeliveries(ctx, 1)
		if err != nil || len(due) != 1 {
			t.Fatalf("due: %v %d", err, len(due))
		}
		if _, err := e.store.RecordWebhookAttempt(ctx, due[0], models.WebhookAttempt{At: at, Code: 502, Err: "answered 502 Bad Gateway", Next: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	admin := e.admin()
	page := "/webhooks/" + strconv.Itoa(int(ep.ID))
	if _, body := admin.get(page); !strings.Contains(body, `data-testid="webhook-disabled-notice"`) || !strings.Contains(body, "502 Bad Gateway") {
		t.Fatalf("no notice:\n%s", body)
	}
	if _, body := admin.get("/webhooks"); !strings.Contains(body, "Vom System abgeschaltet") {
		t.Fatalf("list without the state:\n%s", body)
	}
	st, _, _ := admin.post(page, url.Values{"url": {link}, "events": {models.EventCallEnded}, "enabled": {"yes"}})
	if st != http.StatusSeeOther {
		t.Fatalf("switch on: %d", st)
	}
	if _, body := admin.get(page); strings.Contains(body, `data-testid="webhook-disabled-notice"`) {
		t.Fatal("notice after switching on again")
	}
}
