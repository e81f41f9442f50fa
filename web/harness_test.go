package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"callrec/internal/storetest"
	"callrec/models"
)

// env is a real server on a real socket with a SQLite database in a temp dir and the demo data.
type env struct {
	t     testing.TB
	srv   *httptest.Server
	web   *Server
	store *models.Store
	dsn   string // the store's database
	dir   string
	demo  models.DemoUsers
	// other is a second customer with its own admin and pool, for isolation tests.
	otherAdmin, otherPW string
	otherPool           models.Pool
}

func newEnv(t testing.TB) *env {
	return newEnvWith(t, func(*Config) {})
}

func newEnvWith(t testing.TB, tweak func(*Config)) *env {
	t.Helper()
	return newEnvOn(t, "", tweak)
}

// newEnvOn is newEnvWith on the database dsn ("": storetest's choice).
func newEnvOn(t testing.TB, dsn string, tweak func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	if dsn == "" {
		dsn = storetest.DSN(t, dir)
	}
	store, err := models.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	if _, _, err := store.EnsurePlatformAdmin(ctx, "admin-password-1"); err != nil {
		t.Fatal(err)
	}
	d, _, err := store.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	root := models.Actor{Role: models.RolePlatformAdmin}
	oc, err := store.CreateCustomer(ctx, root, models.CustomerInput{Name: "Other AG", SubscriberID: "999001", Language: "en", TimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	op, err := store.CreatePool(ctx, root, oc.ID, models.PoolInput{Name: "Other pool", StartNumber: "4930555000", Destination: "4930555999", Numbers: []string{"4930555000", "4930555001"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateUser(ctx, root, oc.ID, models.UserInput{Username: "other-admin", Password: "other-password-1", Role: models.RoleCustomerAdmin}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{DataDir: dir}
	tweak(&cfg)
	w := New(cfg, store)
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return &env{t: t, srv: srv, web: w, store: store, dsn: dsn, dir: dir, demo: d, otherAdmin: "other-admin", otherPW: "other-password-1", otherPool: op}
}

// client is a browser-like HTTP client with a cookie jar that does not follow redirects.
type client struct {
	e    *env
	http *http.Client
	csrf string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`)

// get fetches a page and remembers its CSRF token.
func (c *client) get(path string) (int, string) {
	c.e.t.Helper()
	resp, err := c.http.Get(c.e.srv.URL + path)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(b)
}

// post submits a form with the current CSRF token.
func (c *client) post(path string, form url.Values) (int, string, string) {
	c.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("_csrf") == "" {
		form.Set("_csrf", c.csrf)
	}
	resp, err := c.http.PostForm(c.e.srv.URL+path, form)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

// login logs in and fails the test when it does not work.
func (c *client) login(user, pw string) *client {
	c.e.t.Helper()
	c.get("/login")
	st, body, _ := c.post("/login", url.Values{"username": {user}, "password": {pw}})
	if st != http.StatusSeeOther {
		c.e.t.Fatalf("login %s: status %d\n%s", user, st, body)
	}
	c.get("/account") // a page every role has: picks up the session's CSRF token
	return c
}

func (e *env) admin() *client { return e.client().login(e.demo.Admin, e.demo.AdminPassword) }
func (e *env) agent() *client { return e.client().login(e.demo.Agent, e.demo.AgentPassword) }
func (e *env) platform() *client {
	return e.client().login("admin", "admin-password-1")
}

// token makes an API token for a user.
func (e *env) token(user string) string {
	e.t.Helper()
	tok, err := e.store.CreateAPIToken(context.Background(), user, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// api calls the JSON API and decodes the answer into out (when not nil).
func (e *env) api(tok, method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, e.srv.URL+"/api/v1"+path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusNoContent && !strings.HasPrefix(ct, "application/json") {
		e.t.Errorf("%s %s: content type %q, want JSON; body %s", method, path, ct, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// apiErrorBody is the API's error shape.
type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (e *env) demoPool() models.Pool {
	e.t.Helper()
	p, err := e.store.PoolByNumber(context.Background(), "49711218431431")
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}
