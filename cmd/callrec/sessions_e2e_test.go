package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"callrec/internal/pgtest"
	"callrec/internal/sipptest"
	"callrec/internal/testtool"
	"callrec/models"
)

// TestSessionRevocationAcrossNodes: two callrec processes on one PostgreSQL database, each
// with its own session cache. A session opened on node A works on node B; what ends it on A (a
// logout, a password reset) ends it on B too, and a changed role is B's answer too, all within
// Store.SessionCacheTTL (the sessions) and the read cache's bound (the user row), which are the
// same second. A browser that took the same cookie to both nodes is what a load balancer in
// front of them makes of one user.
func TestSessionRevocationAcrossNodes(t *testing.T) {
	testtool.Short(t)
	db := pgtest.DB(t)
	a := startSessionNode(t, "node-a", db)
	b := startSessionNode(t, "node-b", db)
	m := regexp.MustCompile(`customer admin: user demo-admin, password (\S+)\s+agent:\s+user demo-agent, password (\S+)`).FindStringSubmatch(a.out.String())
	if m == nil {
		t.Fatalf("demo passwords not printed:\n%s", a.out)
	}
	st, err := models.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	bound := st.SessionCacheTTL()
	st.Close()
	if bound <= 0 {
		t.Fatalf("SessionCacheTTL on PostgreSQL is %v: another node's logout would never be seen", bound)
	}

	// The ids the platform admin's forms need, from the API as the demo users see themselves.
	api := &product{t: t, http: a.http, db: db}
	var agentMe, adminMe nodeMe
	api.api(api.token("demo-agent"), "GET", "/me", nil, &agentMe)
	api.api(api.token("demo-admin"), "GET", "/me", nil, &adminMe)
	if adminMe.Role != models.RoleCustomerAdmin || adminMe.Customer == nil || agentMe.ID == 0 {
		t.Fatalf("demo users: %+v %+v", adminMe, agentMe)
	}

	root := loginAt(t, a.http, "admin", "platform-admin-pw")
	leaving := loginAt(t, a.http, "admin", "platform-admin-pw")
	agent := loginAt(t, a.http, "demo-agent", m[2])
	custAdmin := loginAt(t, a.http, "demo-admin", m[1])
	// Each session is read (and cached) by B before anything changes.
	for _, s := range []*nodeSession{root, leaving, agent, custAdmin} {
		if st, _ := s.get(b.http, "/account"); st != http.StatusOK {
			t.Fatalf("a session opened on A is not logged in on B (%s): %d", s.user, st)
		}
	}
	if st, _ := custAdmin.get(b.http, "/users"); st != http.StatusOK {
		t.Fatalf("the customer admin's users page on B: %d", st)
	}
	stolen := leaving.cookie() // what a second tab (or a thief) still holds after the logout

	// Node A: a logout, a password reset by the platform admin, a role taken away.
	if st := leaving.post(a.http, "/logout", url.Values{}); st != http.StatusSeeOther {
		t.Fatalf("logout: %d", st)
	}
	// At once, within B's bound, the stolen cookie posts a form on B, which writes the session
	// (its flash): that write must not bring the logged-out session back.
	if st := postWithCookie(t, b.http, "/account/language", stolen, url.Values{"_csrf": {leaving.csrf}, "language": {"de"}}); st != http.StatusSeeOther {
		t.Fatalf("the stolen cookie's form on B: %d", st)
	}
	users := "/admin/customers/" + strconv.Itoa(int(adminMe.Customer.ID)) + "/users/"
	if st := root.post(a.http, users+strconv.Itoa(int(agentMe.ID))+"/password", url.Values{"password": {"a-new-password-0815"}}); st != http.StatusSeeOther {
		t.Fatalf("password reset: %d", st)
	}
	if st := root.post(a.http, users+strconv.Itoa(int(adminMe.ID)), url.Values{"role": {"agent"}}); st != http.StatusSeeOther {
		t.Fatalf("role change: %d", st)
	}
	changed := time.Now()

	// Node B, once the bound has passed (waiting longer cannot make an answer wrong).
	time.Sleep(time.Until(changed.Add(bound + 100*time.Millisecond)))
	for _, node := range []string{a.http, b.http} {
		if st := withCookie(t, node, "/account", stolen); st != http.StatusSeeOther {
			t.Errorf("%s answers the logged-out session with %d, want 303 to the login", node, st)
		}
	}
	if st, _ := agent.get(b.http, "/account"); st != http.StatusSeeOther {
		t.Errorf("B answers the agent whose password was reset with %d, want 303 to the login", st)
	}
	if st, _ := custAdmin.get(b.http, "/account"); st != http.StatusOK {
		t.Errorf("the former customer admin is no longer logged in on B: %d", st)
	}
	if st, _ := custAdmin.get(b.http, "/users"); st == http.StatusOK {
		t.Error("B still shows the users page to the former customer admin")
	}
	if st, _ := root.get(b.http, "/account"); st != http.StatusOK {
		t.Errorf("the platform admin's own session ended on B: %d", st)
	}
}

// sessionNode is callrec serve in a child process (TestServeHelperProcess).
type sessionNode struct {
	http string
	out  *syncBuffer
}

func startSessionNode(t *testing.T, id, db string) *sessionNode {
	t.Helper()
	n := &sessionNode{http: "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t)), out: &syncBuffer{}}
	rtp := map[string]string{"node-a": "46000-46099", "node-b": "46100-46199"}[id]
	args := []string{"serve", "--demo", "--data", t.TempDir(), "--db", db, "--http", n.http,
		"--sip", "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t)), "--trunk", "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t)),
		"--rtp-ports", rtp, "--node-id", id, "--log-level", "warn"}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	cmd.Env = append(os.Environ(), "CALLREC_SERVE_HELPER=1", "CALLREC_SERVE_ARGS="+strings.Join(args, "\t"),
		"CALLREC_ADMIN_PASSWORD=platform-admin-pw")
	cmd.Stdout, cmd.Stderr = n.out, n.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s:\n%s", id, n.out)
		}
	})
	waitHealthy(t, n.http, exited)
	return n
}

// nodeSession is one browser's session: a cookie jar shared by every node (cookies do not
// depend on the port), as behind a load balancer.
type nodeSession struct {
	t    *testing.T
	user string
	jar  *cookiejar.Jar
	c    *http.Client
	csrf string
}

func loginAt(t *testing.T, node, user, pw string) *nodeSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &nodeSession{t: t, user: user, jar: jar, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	s.get(node, "/login")
	if st := s.post(node, "/login", url.Values{"username": {user}, "password": {pw}}); st != http.StatusSeeOther {
		t.Fatalf("login %s: %d", user, st)
	}
	s.get(node, "/account") // the logged-in session's CSRF token
	return s
}

func (s *nodeSession) read(resp *http.Response, err error) (int, []byte) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		s.csrf = string(m[1])
	}
	return resp.StatusCode, body
}

func (s *nodeSession) get(node, path string) (int, []byte) {
	s.t.Helper()
	return s.read(s.c.Get("http://" + node + path))
}

func (s *nodeSession) post(node, path string, form url.Values) int {
	s.t.Helper()
	form.Set("_csrf", s.csrf)
	st, _ := s.read(s.c.PostForm("http://"+node+path, form))
	return st
}

type nodeMe struct {
	ID       uint        `json:"id"`
	Role     models.Role `json:"role"`
	Customer *struct {
		ID uint `json:"id"`
	} `json:"customer"`
}

// cookie is the session cookie as the browser holds it now.
func (s *nodeSession) cookie() *http.Cookie {
	for _, c := range s.jar.Cookies(&url.URL{Scheme: "http", Host: "127.0.0.1"}) {
		if c.Name == "callrec_session" {
			return c
		}
	}
	s.t.Fatal("no session cookie")
	return nil
}

// withCookie is a GET carrying only that cookie: its status.
func withCookie(t *testing.T, node, path string, c *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+node+path, nil)
	req.AddCookie(c)
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// postWithCookie is a form POST carrying only that cookie: its status.
func postWithCookie(t *testing.T, node, path string, c *http.Cookie, form url.Values) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+node+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(c)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
