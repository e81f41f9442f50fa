package web

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"callrec/models"
)

// TestRouteRoles sends every route of the table, as every kind of user who lacks the route's
// role, and expects the refusal written here (not computed from role.refuses, so a wrong
// refuses fails): pages 403 or 404 with the error page, the API the same status with its JSON
// code. Anonymous requests go to the login page (pages) or get 401 (API). Ids in paths are
// arbitrary: a role refuses before any object is looked up.
func TestRouteRoles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := models.Actor{Role: models.RolePlatformAdmin}
	demo, err := e.store.PoolByNumber(ctx, "49711218431431")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateUser(ctx, root, demo.CustomerID, models.UserInput{Username: "agent-with-rec",
		Password: "agent-rec-password-1", Role: models.RoleAgent, CanOpenRecordings: true, Language: "de"}); err != nil {
		t.Fatal(err)
	}
	type user struct {
		name   string
		page   *client
		token  string
		status map[role]int // the refusal per role this user lacks; missing: the user has it
	}
	users := []user{
		{"agent", e.agent(), e.token(e.demo.Agent), map[role]int{recordingsAccess: 404, recordingsDelete: 404,
			admin: 403, customerAdmin: 403, platformAdmin: 404}},
		{"agent with recordings", e.client().login("agent-with-rec", "agent-rec-password-1"), e.token("agent-with-rec"),
			map[role]int{recordingsDelete: 403, admin: 403, customerAdmin: 403, platformAdmin: 404}},
		{"customer admin", e.admin(), e.token(e.demo.Admin), map[role]int{platformAdmin: 404}},
		{"platform admin", e.platform(), e.token("admin"), map[role]int{recordingsDelete: 403, customerStaff: 403,
			customerAdmin: 404}},
	}
	anon := e.client()
	anon.get("/login") // a session with a CSRF token: forms reach the login check
	params := regexp.MustCompile(`:[a-z]+|\*$`)
	seen := map[role]bool{}
	n := 0
	for _, f := range e.web.routeTable() {
		for _, r := range f.routes {
			if r.method == notFound || r.method == http.MethodConnect || r.need == public {
				continue
			}
			seen[r.need] = true
			path := params.ReplaceAllStringFunc(r.path, func(p string) string {
				if p == ":slot" {
					return "caller_notice"
				}
				return "1"
			})
			api := strings.HasPrefix(path, "/api/")
			st, hdr, body := send(t, anon, r.method, path, "", anon.csrf)
			switch {
			case api && (st != http.StatusUnauthorized || r.method != http.MethodHead && apiCode(body) != "unauthorized"):
				t.Errorf("anonymous %s %s: %d %s, want 401 unauthorized", r.method, path, st, body)
			case !api && (st != http.StatusSeeOther || hdr.Get("Location") != "/login"):
				t.Errorf("anonymous %s %s: %d to %q, want 303 to /login", r.method, path, st, hdr.Get("Location"))
			}
			for _, u := range users {
				want := u.status[r.need]
				if want == 0 {
					continue
				}
				n++
				if api {
					st, _, body = send(t, u.page, r.method, path, u.token, "")
					code := map[int]string{403: "forbidden", 404: "not_found"}[want]
					if st != want || r.method != http.MethodHead && apiCode(body) != code {
						t.Errorf("%s %s %s (%s): %d %s, want %d %s", u.name, r.method, path, r.need, st, body, want, code)
					}
					continue
				}
				st, _, body = send(t, u.page, r.method, path, "", u.page.csrf)
				if st != want || !strings.Contains(body, `data-testid="error-page"`) {
					t.Errorf("%s %s %s (%s): %d, want %d with the error page", u.name, r.method, path, r.need, st, want)
				}
			}
		}
	}
	for _, rl := range []role{recordingsAccess, recordingsDelete, customerStaff, admin, customerAdmin, platformAdmin} {
		if !seen[rl] {
			t.Errorf("role %s: no route in the table asks for it", rl)
		}
	}
	if n < 100 {
		t.Fatalf("only %d refusals checked", n)
	}
}

// send makes one request: with a bearer token for the API, with the client's cookies and
// CSRF header for pages.
func send(t *testing.T, c *client, method, path, token, csrf string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, c.e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, readAll(resp)
}

func apiCode(body string) string {
	var eb apiErrorBody
	_ = json.Unmarshal([]byte(body), &eb)
	return eb.Error.Code
}

// TestRouterIsTheTable: the router serves exactly the table's routes (nothing registered
// elsewhere).
func TestRouterIsTheTable(t *testing.T) {
	e := newEnv(t)
	want := map[string]bool{}
	for _, f := range e.web.routeTable() {
		for _, r := range f.routes {
			key := r.method + " " + r.path
			if want[key] {
				t.Errorf("%s is in the table twice", key)
			}
			want[key] = true
		}
	}
	got := map[string]bool{}
	for _, r := range e.web.Echo().Routes() {
		got[r.Method+" "+r.Path] = true
	}
	for k := range want {
		if !got[k] {
			t.Errorf("%s: in the table, not in the router", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("%s: in the router, not in the table", k)
		}
	}
}
