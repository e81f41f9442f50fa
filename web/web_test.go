package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"callrec/models"
)

func TestLoginLogoutAndSessions(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	if st, _ := c.get("/pools"); st != http.StatusSeeOther {
		t.Fatalf("anonymous /pools: %d, want redirect to login", st)
	}
	c.get("/login")
	st, body, _ := c.post("/login", url.Values{"username": {e.demo.Admin}, "password": {"wrong-password"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="login-error"`) {
		t.Fatalf("wrong password: %d", st)
	}
	c.login(e.demo.Admin, e.demo.AdminPassword)
	if st, body := c.get("/pools"); st != 200 || !strings.Contains(body, "4971121843140") {
		t.Fatalf("pools after login: %d", st)
	}
	if st, _, _ := c.post("/logout", nil); st != http.StatusSeeOther {
		t.Fatalf("logout: %d", st)
	}
	if st, _ := c.get("/pools"); st != http.StatusSeeOther {
		t.Fatalf("after logout /pools: %d, want redirect", st)
	}
}

func TestLoginRateLimitIsLocalized(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.get("/login")
	var st int
	var body string
	for i := 0; i < 6; i++ {
		st, body, _ = c.post("/login", url.Values{"username": {"demo-agent"}, "password": {"nope-nope-nope"}})
	}
	if st != http.StatusTooManyRequests || !strings.Contains(body, "Zu viele fehlgeschlagene Anmeldeversuche") {
		t.Fatalf("6th failed login: %d, want 429 with the German message", st)
	}
	// Even the right password is refused while blocked.
	st, _, _ = c.post("/login", url.Values{"username": {"demo-agent"}, "password": {e.demo.AgentPassword}})
	if st != http.StatusTooManyRequests {
		t.Fatalf("blocked login with right password: %d", st)
	}
}

func TestCSRFRequired(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	st, body, _ := c.post("/account/language", url.Values{"language": {"en"}, "_csrf": {"forged"}})
	if st != http.StatusForbidden || !strings.Contains(body, "Formular ist abgelaufen") {
		t.Fatalf("forged CSRF: %d", st)
	}
	if st, _, _ := c.post("/account/language", url.Values{"language": {"en"}}); st != http.StatusSeeOther {
		t.Fatalf("valid CSRF: %d", st)
	}
}

func TestAgentCannotOpenUsersPage(t *testing.T) {
	e := newEnv(t)
	c := e.agent()
	if st, _ := c.get("/users"); st != http.StatusForbidden {
		t.Fatalf("agent /users: %d, want 403", st)
	}
	if st, _, _ := c.post("/users", url.Values{"username": {"x-user"}, "password": {"0123456789ab"}, "role": {"customer_admin"}}); st != http.StatusForbidden {
		t.Fatalf("agent creating a user: %d, want 403", st)
	}
	_, body := c.get("/pools")
	if strings.Contains(body, `data-testid="nav-users"`) {
		t.Error("agent sees the users menu entry")
	}
}

func TestCustomerIsolationUIAndAPI(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	other := "/pools/" + strconv.Itoa(int(e.otherPool.ID))
	if st, _ := c.get(other); st != http.StatusNotFound {
		t.Fatalf("foreign pool page: %d, want 404", st)
	}
	if st, _ := c.get(other + "/edit"); st != http.StatusNotFound {
		t.Fatalf("foreign pool edit: %d, want 404", st)
	}
	tok := e.token(e.demo.Admin)
	var eb apiErrorBody
	if st := e.api(tok, "GET", "/pools/"+strconv.Itoa(int(e.otherPool.ID)), nil, &eb); st != 404 || eb.Error.Code != "not_found" {
		t.Fatalf("foreign pool API: %d %+v", st, eb)
	}
	var list struct{ Pools []poolJSON }
	e.api(tok, "GET", "/pools", nil, &list)
	if len(list.Pools) != 1 || list.Pools[0].StartNumber != "4971121843140" {
		t.Fatalf("pools API: %+v", list)
	}
	var p poolJSON
	if st := e.api(tok, "GET", "/pools/"+strconv.Itoa(int(list.Pools[0].ID)), nil, &p); st != 200 || len(p.Numbers) != 3 {
		t.Fatalf("own pool API: %d %+v", st, p)
	}
}

func TestAPIAuthAndErrors(t *testing.T) {
	e := newEnv(t)
	var eb apiErrorBody
	if st := e.api("", "GET", "/me", nil, &eb); st != 401 || eb.Error.Code != "unauthorized" {
		t.Fatalf("no token: %d %+v", st, eb)
	}
	if st := e.api("cr_bogus", "GET", "/me", nil, &eb); st != 401 {
		t.Fatalf("bad token: %d", st)
	}
	var me meJSON
	if st := e.api(e.token(e.demo.Agent), "GET", "/me", nil, &me); st != 200 || me.Role != models.RoleAgent || me.Customer == nil || me.Customer.SubscriberID != "337826" {
		t.Fatalf("me: %d %+v", st, me)
	}
	if st := e.api(e.token(e.demo.Agent), "GET", "/nope", nil, &eb); st != 404 || eb.Error.Code != "not_found" {
		t.Fatalf("unknown API path: %d %+v", st, eb)
	}
	if st := e.api(e.token(e.demo.Agent), "GET", "/pools/abc", nil, &eb); st != 404 {
		t.Fatalf("non-numeric id: %d", st)
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	big := strings.Repeat("x", 2<<20)
	st, body, _ := c.post("/account/language", url.Values{"language": {"en"}, "pad": {big}})
	if st != http.StatusRequestEntityTooLarge || !strings.Contains(body, "zu groß") {
		t.Fatalf("oversized form: %d", st)
	}
}

func TestUnknownPageIsLocalized404(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	req, _ := http.NewRequest("GET", e.srv.URL+"/no/such/page", nil)
	req.Header.Set("Accept-Language", "fr")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	_, body := c.get("/no/such/page")
	if !strings.Contains(body, "Diese Seite gibt es nicht") {
		t.Fatal("404 page not in German by default")
	}
}

func TestPoolFormValidation(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	c.get("/pools/new")
	st, body, _ := c.post("/pools/new", url.Values{"name": {""}, "start_number": {"+49 711"}, "numbers": {"4971121843140\nabc"}, "destination": {"123"}})
	if st != http.StatusUnprocessableEntity {
		t.Fatalf("invalid pool: %d", st)
	}
	for _, f := range []string{"name", "start_number", "numbers"} {
		if !strings.Contains(body, `data-testid="error-`+f+`"`) {
			t.Errorf("no error beside %s", f)
		}
	}
	// Another customer's number is refused like any number not assigned to the customer (it
	// used to say the number belonged to another pool, which told who held it).
	st, body, _ = c.post("/pools/new", url.Values{"name": {"P2"}, "start_number": {"4971121843145"}, "numbers": {"4930555001"}, "destination": {"4971199"}})
	if st != 422 || !strings.Contains(body, "gehört nicht zu Ihren Rufnummernblöcken") {
		t.Fatalf("another customer's number: %d", st)
	}
	// A number of the demo's own other pool is taken.
	st, body, _ = c.post("/pools/new", url.Values{"name": {"P2"}, "start_number": {"4971121843145"}, "numbers": {"49711218431431"}, "destination": {"4971199"}})
	if st != 422 || !strings.Contains(body, "gehört bereits zu einem anderen Pool") {
		t.Fatalf("taken number: %d", st)
	}
	st, _, loc := c.post("/pools/new", url.Values{"name": {"P2"}, "start_number": {"4971121843145"}, "numbers": {"4971121843145\n4971121843146"}, "destination": {"4971199"}})
	if st != http.StatusSeeOther || !regexp.MustCompile(`^/pools/\d+$`).MatchString(loc) {
		t.Fatalf("valid pool: %d %q", st, loc)
	}
}

func TestLanguageFallbacks(t *testing.T) {
	e := newEnv(t)
	c := e.admin()
	if _, body := c.get("/pools"); !strings.Contains(body, "Rufnummernpools") {
		t.Fatal("demo customer's language (de) not used")
	}
	c.post("/language", url.Values{"language": {"en"}})
	if _, body := c.get("/pools"); !strings.Contains(body, "Number pools") {
		t.Fatal("user's language (en) not used")
	}
	c.post("/language", url.Values{"language": {"fr"}})
	if _, body := c.get("/pools"); !strings.Contains(body, "Pools de numéros") {
		t.Fatal("user's language (fr) not used")
	}
	// An anonymous visitor gets Accept-Language.
	req, _ := http.NewRequest("GET", e.srv.URL+"/login", nil)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	resp, _ := http.DefaultClient.Do(req)
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	if !strings.Contains(sb.String(), "Log in") {
		t.Fatal("Accept-Language en not used on the login page")
	}
}

func TestPasswordResetRevokesSessions(t *testing.T) {
	e := newEnv(t)
	agent := e.agent()
	admin := e.admin()
	agentUser, _ := e.store.UserByName(t.Context(), e.demo.Agent)
	id := strconv.Itoa(int(agentUser.ID))
	admin.get("/users/" + id)
	if st, _, _ := admin.post("/users/"+id+"/password", url.Values{"password": {"short"}}); st != 422 {
		t.Fatalf("short password: %d", st)
	}
	if st, _, _ := admin.post("/users/"+id+"/password", url.Values{"password": {"a-new-password-1"}}); st != http.StatusSeeOther {
		t.Fatalf("reset: %d", st)
	}
	if st, _ := agent.get("/pools"); st != http.StatusSeeOther {
		t.Fatalf("agent's old session still works after reset: %d", st)
	}
	e.client().login(e.demo.Agent, "a-new-password-1")
}

// TestOpenAPIListsEveryRoute: every API route of the route table is in the OpenAPI document,
// and every operation the document describes is a route of the table.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	e := newEnv(t)
	b, err := openapiDoc()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	n := 0
	inTable := map[string]bool{}
	for _, f := range e.web.routeTable() {
		for _, r := range f.routes {
			p, ok := strings.CutPrefix(r.path, "/api/v1")
			if !ok || p == "/*" || p == "" || p == "/openapi.json" || r.method == notFound {
				continue
			}
			p = param.ReplaceAllString(p, "{$1}")
			inTable[strings.ToLower(r.method)+" "+p] = true
			if _, ok := doc.Paths[p][strings.ToLower(r.method)]; !ok {
				t.Errorf("%s /api/v1%s is not in the OpenAPI document", r.method, p)
			}
			n++
		}
	}
	if n < 3 {
		t.Fatalf("only %d API routes found", n)
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			switch m {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
			default:
				continue // path-level fields (parameters, summary)
			}
			if !inTable[m+" "+p] {
				t.Errorf("the OpenAPI document describes %s /api/v1%s, the route table has no such route", strings.ToUpper(m), p)
			}
		}
	}
}
