package web

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"callrec/internal/browsertest"
	"callrec/media"
	"callrec/models"
)

// pageVisit is one page of the route table as one role opens it.
type pageVisit struct {
	route string // the route table's path
	path  string // what the browser opens
}

// everyPage is every GET page of the route table, with the ids of e's objects put into its path,
// as each role opens them; routes that answer something other than a page (audio, downloads,
// event streams, CSV) are listed in notPages. A new page route fails TestBrowserEveryPage until
// it is added here, so no page escapes the phone-width and accessibility checks.
func everyPage(e *env, recording uint) map[string][]pageVisit {
	ctx := context.Background()
	pool, other := e.demoPool(), e.otherPool
	admin, _ := e.store.UserByName(ctx, e.demo.Admin)
	agent, _ := e.store.UserByName(ctx, e.demo.Agent)
	u := func(id uint) string { return strconv.FormatUint(uint64(id), 10) }
	hookURL, hookDesc := "https://hooks.example.com/callrec/a-rather-long-path/that-must-wrap-on-a-phone", "CRM"
	hook, err := e.store.CreateWebhook(ctx, models.ActorOf(admin), "127.0.0.1", models.WebhookInput{URL: &hookURL,
		Description: &hookDesc, Events: []string{"recording.completed"}}, models.WebhookURLPolicy{})
	if err != nil {
		e.t.Fatal(err)
	}
	cust := u(pool.CustomerID)
	recFolder := "/files/" + models.RecordingsRoot + "/337826/" + pool.StartNumber
	shared := func(poolID uint) []pageVisit {
		return []pageVisit{
			{"/", "/"}, {"/account", "/account"}, {"/pools", "/pools"}, {"/pools/:id", "/pools/" + u(poolID)},
			{"/files", "/files"}, {"/files/announcements", "/files/announcements"},
			{"/calls", "/calls"}, {"/calls/live", "/calls/live"},
		}
	}
	recs := []pageVisit{{"/files/" + models.RecordingsRoot, "/files/" + models.RecordingsRoot},
		{"/files/" + models.RecordingsRoot + "/*", recFolder}, {"/recordings/:id", "/recordings/" + u(recording)}}
	return map[string][]pageVisit{
		"platform admin": append(append(shared(other.ID), recs...),
			pageVisit{"/admin/customers", "/admin/customers"}, pageVisit{"/admin/customers/:id", "/admin/customers/" + cust},
			pageVisit{"/admin/prices", "/admin/prices"}, pageVisit{"/admin/nodes", "/admin/nodes"}, pageVisit{"/admin/customers/:cid/users", "/admin/customers/" + cust + "/users"},
			pageVisit{"/admin/customers/:id/numbers", "/admin/customers/" + cust + "/numbers"}, pageVisit{"/admin/destinations", "/admin/destinations"},
			pageVisit{"/admin/customers/:cid/users/:id", "/admin/customers/" + cust + "/users/" + u(agent.ID)},
			pageVisit{"/pools/new", "/pools/new?customer=" + cust}, pageVisit{"/pools/:id/edit", "/pools/" + u(other.ID) + "/edit"},
			pageVisit{"/audit", "/audit"}),
		"customer admin": append(append(shared(pool.ID), recs...),
			pageVisit{"/settings", "/settings"}, pageVisit{"/users", "/users"}, pageVisit{"/users/:id", "/users/" + u(admin.ID)},
			pageVisit{"/pools/new", "/pools/new"}, pageVisit{"/pools/:id/edit", "/pools/" + u(pool.ID) + "/edit"},
			pageVisit{"/ftp-access", "/ftp-access"}, pageVisit{"/audit", "/audit"},
			pageVisit{"/webhooks", "/webhooks"}, pageVisit{"/webhooks/:id", "/webhooks/" + u(hook.ID)}),
		"agent": append(shared(pool.ID), pageVisit{"/no-such-page", "/no-such-page"}),
	}
}

// notPages are the GET routes outside /api and /static that answer no HTML page.
var notPages = map[string]bool{
	"/healthz": true, "/pools/:id/announcements/:slot/audio": true, "/files/announcements/:id/content": true,
	"/recordings/:id/audio": true, "/recordings/:id/download": true, "/calls/live/events": true, "/audit.csv": true,
}

// TestBrowserEveryPage opens every page of the route table in Chromium as each role that may see
// it: at phone width (390x844, touch) in German nothing is wider than the screen and every
// control is at least 44 px in both directions, and there and
// at 1366x900 in English axe-core finds no serious or critical violation. With CALLREC_SCREENS=DIR
// it also saves a screenshot of each (the "screens in Chromium" for people to look at).
func TestBrowserEveryPage(t *testing.T) {
	// A node of a cluster of two, its engine registered at the trunk: the platform admin's
	// pages show nodes and registration as a platform sees them.
	e := newEnvWith(t, func(c *Config) {
		c.NodeID = "node-a"
		c.EngineHealth = func() media.Health {
			return media.Health{Calls: 1, Registration: media.RegistrationStatus{State: media.RegRegistered,
				Trunk: "sip.carrier.example:5061", Expires: time.Now().Add(30 * time.Minute)}}
		}
	})
	for _, b := range []models.NodeBeat{{ID: "node-a", Addr: "10.0.0.1:7070", Version: "v1", Started: time.Now(), ActiveCalls: 1},
		{ID: "node-b", Addr: "10.0.0.2:7070", Version: "v1", Started: time.Now(), ActiveCalls: 3}} {
		if err := e.store.Heartbeat(t.Context(), b, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	e.bookedPool()
	rec := e.addRecording(e.demoPool(), "every-page", seedName, time.Now().Add(-time.Hour), "49711218431440")
	visits := everyPage(e, rec)
	covered := map[string]bool{"/login": true}
	for _, vs := range visits {
		for _, v := range vs {
			covered[v.route] = true
		}
	}
	for _, f := range e.web.routeTable() {
		for _, r := range f.routes {
			if r.method == http.MethodGet && isPagePath(r.path) && !strings.HasPrefix(r.path, "/static/") && !notPages[r.path] && !covered[r.path] {
				t.Errorf("page route %s is not in everyPage: add it so it is checked", r.path)
			}
		}
	}
	screens := os.Getenv("CALLREC_SCREENS")
	users := map[string][2]string{"platform admin": {"admin", "admin-password-1"},
		"customer admin": {e.demo.Admin, e.demo.AdminPassword}, "agent": {e.demo.Agent, e.demo.AgentPassword}}
	langs := []string{"de", "en"}
	if screens != "" {
		langs = append(langs, "fr") // screens: French too
	}
	// A browser per role and language: the screens (every page at both sizes in three
	// languages) would not fit one browser's time limit.
	for _, role := range []string{"platform admin", "customer admin", "agent"} {
		for _, lang := range langs {
			t.Run(strings.ReplaceAll(role, " ", "_")+"/"+lang, func(t *testing.T) {
				everyPageAs(t, e, visits[role], role, users[role], lang, screens)
			})
		}
	}
}

// everyPageAs is TestBrowserEveryPage for one role in one language.
func everyPageAs(t *testing.T, e *env, visits []pageVisit, role string, cred [2]string, lang, screens string) {
	ctx := browsertest.New(t)
	check := func(lang string, w, h int64, path string, widthCheck bool) {
		t.Helper()
		var shot []byte
		if err := chromedp.Run(ctx, browsertest.Viewport(w, h, w < 600), chromedp.Navigate(e.srv.URL+path),
			chromedp.WaitReady(`body`, chromedp.ByQuery), chromedp.Sleep(150*time.Millisecond)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if widthCheck {
			over, err := browsertest.Overflow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if over != "" {
				t.Errorf("%s at %d px (%s): %s", path, w, lang, over)
			}
			small, err := browsertest.SmallTargets(ctx, 44)
			if err != nil {
				t.Fatal(err)
			}
			if small != "" {
				t.Errorf("%s at %d px (%s): touch targets under 44 px: %s", path, w, lang, small)
			}
		}
		vs, err := browsertest.Axe(ctx)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, v := range vs {
			t.Errorf("%s at %d px (%s): axe: %s", path, w, lang, v)
		}
		if screens != "" {
			if err := chromedp.Run(ctx, chromedp.FullScreenshot(&shot, 100)); err != nil {
				t.Fatal(err)
			}
			name := strings.Trim(strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(path), "_")
			if name == "" {
				name = "home"
			}
			file := filepath.Join(screens, fmt.Sprintf("%s-%s-%s-%d.png", strings.ReplaceAll(role, " ", "-"), name, lang, w))
			if err := os.WriteFile(file, shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if role == "agent" && lang == "de" { // the login page, before anyone is logged in
		check("de", 390, 844, "/login", true)
	}
	if err := chromedp.Run(ctx, browsertest.Login(e.srv.URL, cred[0], cred[1]), browsertest.Language(e.srv.URL, lang)); err != nil {
		t.Fatal(err)
	}
	for _, v := range visits {
		if lang == "de" || screens != "" { // screens: every page at both sizes in every language
			check(lang, 390, 844, v.path, true)
		}
		if lang == "en" || screens != "" {
			check(lang, 1366, 900, v.path, false)
		}
	}
}
