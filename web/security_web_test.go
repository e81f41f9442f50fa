package web

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// bigFile is a file of n bytes of zeros (not audio) in dir, to upload.
func bigFile(t *testing.T, dir string, n int64) string {
	t.Helper()
	p := filepath.Join(dir, "big.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(n); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// entries lists what a folder holds (names), recursively.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			out = append(out, strings.TrimPrefix(p, dir+"/"))
		}
		return nil
	})
	return out
}

// TestMultipartFloodLeavesNoTempFiles is the "fill the disk" attack: 20 concurrent 40 MB
// multipart posts from curl, anonymous (without a token, with an anonymous session's token in the
// query or the header, to an upload route, the login form and the API) and, for the outcomes a
// logged-in user can reach, a customer admin's upload of a file that is not audio and one that
// breaks off. Afterwards neither TMPDIR nor the customer's announcements folder holds a file:
// the CSRF check parsed no body, and what the upload wrote is gone. (The server process's memory
// under the same flood is measured on `callrec serve` in cmd/callrec.)
func TestMultipartFloodLeavesNoTempFiles(t *testing.T) {
	e := newEnv(t)
	file := bigFile(t, t.TempDir(), 40_000_000)
	anon := e.curl()
	anon.do("/login") // an anonymous session and its token
	admin := e.curl().login(e.demo.Admin, e.demo.AdminPassword)
	anon.shared = true
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	type post struct {
		c     *curl
		path  string
		args  []string
		wants []int // acceptable statuses (0: curl saw none, the server closed mid-body)
	}
	form := []string{"-F", "file=@" + file + ";type=audio/wav"}
	var posts []post
	for i := 0; i < 20; i++ {
		expect := []string{}
		if i%2 == 1 { // send the body at once instead of waiting for 100 Continue
			expect = []string{"-H", "Expect:"}
		}
		var p post
		switch i % 5 {
		case 0:
			p = post{anon, "/files/announcements", nil, []int{403, 0}}
		case 1:
			p = post{anon, "/files/announcements?_csrf=" + anon.csrf, nil, []int{303, 0}}
		case 2:
			p = post{anon, "/files/announcements", []string{"-H", "X-CSRF-Token: " + anon.csrf}, []int{303, 0}}
		case 3:
			p = post{anon, "/login?_csrf=" + anon.csrf, nil, []int{413, 0}}
		case 4:
			p = post{anon, "/api/v1/files", nil, []int{401, 0}}
		}
		p.args = append(append(p.args, expect...), form...)
		posts = append(posts, p)
	}
	var wg sync.WaitGroup
	answers := make([]curlAnswer, len(posts))
	for i, p := range posts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = p.c.do(p.path, p.args...)
		}()
	}
	wg.Wait()
	for i, a := range answers {
		ok := false
		for _, w := range posts[i].wants {
			ok = ok || a.Status == w || w == 0 && a.Status == 100
		}
		if a.Status == 100 {
			a.Status = 0
		}
		if !ok || a.Status == 0 && a.Exit != 55 && a.Exit != 56 {
			t.Errorf("post %d to %s: status %d, curl exit %d %s", i, posts[i].path, a.Status, a.Exit, a.Stderr)
		}
	}
	// A logged-in admin's uploads that fail: not audio (422), and one that breaks off.
	if a := admin.do("/files/announcements", append([]string{"-H", "X-CSRF-Token: " + admin.csrf, "-H", "Accept: application/json"}, form...)...); a.Status != http.StatusUnprocessableEntity {
		t.Errorf("admin's upload of zeros: %d %s", a.Status, a.Body)
	}
	if a := admin.do("/files/announcements", append([]string{"-H", "X-CSRF-Token: " + admin.csrf, "--limit-rate", "4M", "--max-time", "1"}, form...)...); a.Exit == 0 {
		t.Errorf("the broken-off upload completed: %d", a.Status)
	}
	ann := filepath.Join(e.dir, "announcements", "337826")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left := append(entries(t, tmp), entries(t, ann)...)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("files left behind: %v", left)
		}
	}
}

// TestCSRFTokenNeverComesFromAMultipartBody: a multipart form's token counts only in the header
// or the query; one in the body is refused without the body being read, and a URL-encoded body
// over the form limit is refused for its size before its token is looked for.
func TestCSRFTokenNeverComesFromAMultipartBody(t *testing.T) {
	e := newEnv(t)
	admin := e.curl().login(e.demo.Admin, e.demo.AdminPassword)
	form := []string{"-F", "_csrf=" + admin.csrf, "-F", "language=en"}
	if a := admin.do("/account/language", form...); a.Status != http.StatusForbidden {
		t.Fatalf("multipart with the token in its body: %d, want 403", a.Status)
	}
	if a := admin.do("/account/language?_csrf="+admin.csrf, "-F", "language=en"); a.Status != http.StatusSeeOther {
		t.Fatalf("multipart with the token in the query: %d, want 303", a.Status)
	}
	if a := admin.do("/account/language", "-H", "X-CSRF-Token: "+admin.csrf, "-F", "language=de"); a.Status != http.StatusSeeOther {
		t.Fatalf("multipart with the token in the header: %d, want 303", a.Status)
	}
	if a := admin.do("/account/language", "--data-urlencode", "_csrf="+admin.csrf, "--data-urlencode", "language=en"); a.Status != http.StatusSeeOther {
		t.Fatalf("URL-encoded form with its token: %d, want 303", a.Status)
	}
	big := filepath.Join(t.TempDir(), "pad")
	if err := os.WriteFile(big, []byte("pad="+strings.Repeat("x", 2<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Anonymous, with a session but no token: the size answers first.
	anon := e.curl()
	anon.do("/login")
	if a := anon.do("/login", "--data-binary", "@"+big, "-H", "Content-Type: application/x-www-form-urlencoded"); a.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB form: %d, want 413", a.Status)
	}
	// Chunked (no length known in advance): the bounded read stops it.
	if a := anon.do("/login", "--data-binary", "@"+big, "-H", "Content-Type: application/x-www-form-urlencoded", "-H", "Transfer-Encoding: chunked"); a.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB chunked form: %d, want 413", a.Status)
	}
}

// TestLoginSuccessKeepsTheAddressBudget: one address guesses other accounts' passwords and logs
// into an account of its own in between. The success must not give the address new guesses: after
// five failures in all it is blocked, even for its own account.
func TestLoginSuccessKeepsTheAddressBudget(t *testing.T) {
	e := newEnv(t)
	c := e.curl()
	fail := func(user string) int {
		c.do("/login")
		return c.do("/login", "--data-urlencode", "username="+user, "--data-urlencode", "password=wrong-password-1", "--data-urlencode", "_csrf="+c.csrf).Status
	}
	for _, u := range []string{"victim-1", "victim-2", "victim-3", "victim-4"} {
		if st := fail(u); st != http.StatusUnprocessableEntity {
			t.Fatalf("failed login of %s: %d", u, st)
		}
	}
	c.login(e.demo.Admin, e.demo.AdminPassword)
	c.do("/logout", "-X", "POST", "-H", "X-CSRF-Token: "+c.csrf)
	if st := fail("victim-5"); st != http.StatusUnprocessableEntity {
		t.Fatalf("fifth failure: %d", st)
	}
	c.do("/login")
	a := c.do("/login", "--data-urlencode", "username="+e.demo.Admin, "--data-urlencode", "password="+e.demo.AdminPassword, "--data-urlencode", "_csrf="+c.csrf)
	if a.Status != http.StatusTooManyRequests {
		t.Fatalf("login after five failures from the address, one success between: %d, want 429", a.Status)
	}
}

// TestAuthenticatedAnswersAreNotCached: pages, API answers and recordings' audio say no-store
// (a shared or browser cache must not keep another user's data); the embedded assets stay
// cacheable.
func TestAuthenticatedAnswersAreNotCached(t *testing.T) {
	e := newEnv(t)
	admin := e.curl().login(e.demo.Admin, e.demo.AdminPassword)
	tok := e.token(e.demo.Admin)
	for _, a := range []struct {
		what string
		ans  curlAnswer
	}{
		{"login page", e.curl().do("/login")},
		{"pools page", admin.do("/pools")},
		{"account page", admin.do("/account")},
		{"error page", admin.do("/pools/999")},
		{"API", admin.do("/api/v1/pools", "-H", "Authorization: Bearer "+tok)},
		{"API error", admin.do("/api/v1/pools/999", "-H", "Authorization: Bearer "+tok)},
		{"announcement audio", admin.do("/pools/1/announcements/caller_notice/audio")},
	} {
		if cc := a.ans.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("%s (%d): Cache-Control %q, want no-store", a.what, a.ans.Status, cc)
		}
	}
	if cc := admin.do("/static/app.js").Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public") {
		t.Errorf("static asset: Cache-Control %q", cc)
	}
}

// TestHSTSOnlyBehindHTTPS: with --secure-cookies (the panel is served over HTTPS) every answer
// carries Strict-Transport-Security; without it none does, so a plain-HTTP setup is not locked out.
func TestHSTSOnlyBehindHTTPS(t *testing.T) {
	secure := newEnvWith(t, func(c *Config) { c.SecureCookies = true })
	for _, p := range []string{"/login", "/static/app.css", "/api/v1/me"} {
		if h := secure.curl().do(p).Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
			t.Errorf("secure %s: HSTS %q", p, h)
		}
	}
	plain := newEnv(t)
	if h := plain.curl().do("/login").Header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("plain HTTP: HSTS %q", h)
	}
}

// TestCSPHasNoInlineScripts: every page's policy allows scripts from the server and its own
// nonce, never 'unsafe-inline'; the nonce is new on every answer and the page's script tags carry
// it. (TestBrowserCSPStopsInjectedScripts shows Chromium enforcing it.)
func TestCSPHasNoInlineScripts(t *testing.T) {
	e := newEnv(t)
	admin := e.curl().login(e.demo.Admin, e.demo.AdminPassword)
	seen := map[string]bool{}
	for _, p := range []string{"/pools", "/pools", "/pools/1", "/calls/live", "/files/announcements", "/account"} {
		a := admin.do(p)
		csp := a.Header.Get("Content-Security-Policy")
		var script string
		for _, d := range strings.Split(csp, ";") {
			if d = strings.TrimSpace(d); strings.HasPrefix(d, "script-src ") {
				script = d
			}
		}
		m := nonceRE.FindStringSubmatch(script)
		if a.Status != 200 || m == nil || strings.Contains(script, "unsafe-inline") || strings.Contains(script, "unsafe-eval") {
			t.Fatalf("%s: %d, script-src %q", p, a.Status, script)
		}
		if seen[m[1]] {
			t.Fatalf("%s: nonce %s used twice", p, m[1])
		}
		seen[m[1]] = true
		tags := strings.Count(a.Body, "<script ")
		if tags == 0 || strings.Count(a.Body, `nonce="`+m[1]+`"`) != tags {
			t.Fatalf("%s: %d script tags, not all with the answer's nonce", p, tags)
		}
		for _, inline := range []string{" onchange=", " onclick=", " onsubmit=", " onload=", "javascript:"} {
			if strings.Contains(a.Body, inline) {
				t.Errorf("%s: inline handler %q", p, inline)
			}
		}
	}
}

// TestForgedForwardedForIsIgnored: X-Forwarded-For counts only from a configured proxy. A client
// that sends one itself still has its connection's address (its failed logins block it, and
// naming another address gives it no fresh budget); behind a trusted proxy each forwarded client
// has its own budget.
func TestForgedForwardedForIsIgnored(t *testing.T) {
	fail := func(c *curl, xff, user string) int {
		c.do("/login", "-H", "X-Forwarded-For: "+xff)
		return c.do("/login", "-H", "X-Forwarded-For: "+xff, "--data-urlencode", "username="+user, "--data-urlencode",
			"password=wrong-password-1", "--data-urlencode", "_csrf="+c.csrf).Status
	}
	// Other user names each time: only the address's budget can block.
	direct := newEnv(t)
	c := direct.curl()
	var st int
	for i := 0; i < 6; i++ {
		st = fail(c, "203.0.113."+strconv.Itoa(i+1), "victim-"+strconv.Itoa(i))
	}
	if st != http.StatusTooManyRequests {
		t.Fatalf("six failures, each naming another X-Forwarded-For: %d, want 429", st)
	}
	_, loop, _ := net.ParseCIDR("127.0.0.0/8")
	proxied := newEnvWith(t, func(cfg *Config) { cfg.TrustedProxies = []*net.IPNet{loop} })
	p := proxied.curl()
	for i := 0; i < 6; i++ {
		st = fail(p, "203.0.113.1", "victim-"+strconv.Itoa(i))
	}
	if st != http.StatusTooManyRequests {
		t.Fatalf("six failures of one forwarded client: %d, want 429", st)
	}
	if st = fail(p, "203.0.113.2", "someone-else"); st != http.StatusUnprocessableEntity {
		t.Fatalf("another forwarded client behind the same proxy: %d, want 422 (its own budget)", st)
	}
}
