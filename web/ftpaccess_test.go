package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"callrec/models"
)

func TestFTPAccessPage(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	st, body := admin.get("/ftp-access")
	if st != http.StatusOK || !strings.Contains(body, `data-testid="ftp-credentials-form"`) ||
		!strings.Contains(body, `value="ftp-337826"`) || !strings.Contains(body, `data-testid="nav-ftp"`) {
		t.Fatalf("page: %d\n%s", st, body)
	}
	// Too short: 422 with the error beside the field, nothing stored.
	st, body, _ = admin.post("/ftp-access", url.Values{"username": {"ftp-337826"}, "password": {"short"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="error-password"`) || !strings.Contains(body, `aria-invalid="true"`) {
		t.Fatalf("short password: %d\n%s", st, body)
	}
	st, body, _ = admin.post("/ftp-access", url.Values{"username": {"a b"}, "password": {"long-enough-pw"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="error-username"`) {
		t.Fatalf("bad user name: %d\n%s", st, body)
	}
	st, _, loc := admin.post("/ftp-access", url.Values{"username": {"demo-ftp"}, "password": {"ftp-password-1"}})
	if st != http.StatusSeeOther || loc != "/ftp-access" {
		t.Fatalf("save: %d %s", st, loc)
	}
	_, body = admin.get("/ftp-access")
	if !strings.Contains(body, `value="demo-ftp"`) || !strings.Contains(body, e.demo.Admin) {
		t.Fatalf("after save:\n%s", body)
	}
	acc, err := e.store.AuthenticateFTP(context.Background(), "demo-ftp", "ftp-password-1")
	if err != nil || acc.SubscriberID != "337826" {
		t.Fatalf("the saved login does not authenticate: %+v %v", acc, err)
	}
	// Agents and the platform admin have no such page.
	if st, _ := e.agent().get("/ftp-access"); st != http.StatusForbidden {
		t.Fatalf("agent: %d", st)
	}
	if st, _, _ := e.agent().post("/ftp-access", url.Values{"username": {"x-ftp"}, "password": {"ftp-password-2"}}); st != http.StatusForbidden {
		t.Fatalf("agent post: %d", st)
	}
	if st, _ := e.platform().get("/ftp-access"); st != http.StatusNotFound {
		t.Fatalf("platform: %d", st)
	}
}

type ftpCredsBody struct {
	CustomerID uint   `json:"customer_id"`
	Booked     bool   `json:"booked"`
	Folder     string `json:"folder"`
	Set        bool   `json:"set"`
	Username   string `json:"username"`
	SetBy      string `json:"set_by"`
	Password   string `json:"password"`
}

func TestFTPCredentialsAPI(t *testing.T) {
	e := newEnv(t)
	admin, agent, platform := e.token(e.demo.Admin), e.token(e.demo.Agent), e.token("admin")
	var got ftpCredsBody
	if st := e.api(admin, "GET", "/ftp-access/credentials", nil, &got); st != 200 || got.Set || got.Username != "ftp-337826" || got.Folder != "call_recording/337826" || got.Booked {
		t.Fatalf("GET before: %d %+v", st, got)
	}
	var apiErr apiErrorBody
	if st := e.api(agent, "PUT", "/ftp-access/credentials", map[string]string{"username": "x-ftp", "password": "ftp-password-1"}, &apiErr); st != 403 || apiErr.Error.Code != "forbidden" {
		t.Fatalf("agent PUT: %d %+v", st, apiErr)
	}
	if st := e.api(agent, "GET", "/ftp-access/credentials", nil, nil); st != 403 {
		t.Fatalf("agent GET: %d", st)
	}
	if st := e.api(admin, "PUT", "/ftp-access/credentials", map[string]string{"username": "demo-ftp", "password": "short"}, &apiErr); st != 422 || apiErr.Error.Code != "password_too_short" {
		t.Fatalf("short: %d %+v", st, apiErr)
	}
	if st := e.api(admin, "PUT", "/ftp-access/credentials", map[string]string{"username": "demo-ftp"}, &apiErr); st != 422 || apiErr.Error.Code != "required" {
		t.Fatalf("no password: %d %+v", st, apiErr)
	}
	if st := e.api(admin, "PUT", "/ftp-access/credentials", map[string]any{"username": "demo-ftp", "password": "ftp-password-1", "extra": 1}, &apiErr); st != 400 {
		t.Fatalf("unknown field: %d %+v", st, apiErr)
	}
	if st := e.api(admin, "PUT", "/ftp-access/credentials", map[string]string{"username": "demo-ftp", "password": "ftp-password-1"}, &got); st != 201 || !got.Set || got.Username != "demo-ftp" || got.SetBy != e.demo.Admin || got.Password != "" {
		t.Fatalf("PUT: %d %+v", st, got)
	}
	if st := e.api(admin, "PUT", "/ftp-access/credentials", map[string]string{"username": "demo-ftp", "password": "ftp-password-2"}, &got); st != 200 {
		t.Fatalf("PUT again: %d", st)
	}
	if _, err := e.store.AuthenticateFTP(context.Background(), "demo-ftp", "ftp-password-1"); err == nil {
		t.Fatal("the old password still works")
	}
	// The other customer cannot take the name, and is not told that another customer holds it
	// (the answer of an ill-formed name), nor see or change this customer's login.
	other := e.token(e.otherAdmin)
	if st := e.api(other, "PUT", "/ftp-access/credentials", map[string]string{"username": "demo-ftp", "password": "ftp-password-3"}, &apiErr); st != 422 || apiErr.Error.Code != "username_invalid" {
		t.Fatalf("taken: %d %+v", st, apiErr)
	}
	demoID := strconv.Itoa(int(got.CustomerID))
	if st := e.api(other, "GET", "/ftp-access/credentials?customer="+demoID, nil, nil); st != 404 {
		t.Fatalf("other GET: %d", st)
	}
	if st := e.api(other, "PUT", "/ftp-access/credentials?customer="+demoID, map[string]string{"username": "evil-ftp", "password": "ftp-password-3"}, nil); st != 404 {
		t.Fatalf("other PUT: %d", st)
	}
	// The platform admin names the customer.
	if st := e.api(platform, "GET", "/ftp-access/credentials", nil, &apiErr); st != 422 || apiErr.Error.Code != "customer_required" {
		t.Fatalf("platform without customer: %d %+v", st, apiErr)
	}
	if st := e.api(platform, "GET", "/ftp-access/credentials?customer="+demoID, nil, &got); st != 200 || got.Username != "demo-ftp" {
		t.Fatalf("platform GET: %d %+v", st, got)
	}
	// Every change is audited, without the password.
	page, err := e.store.AuditEvents(context.Background(), models.Actor{Role: models.RolePlatformAdmin},
		models.AuditFilter{Kind: "ftp.credentials_set"}, 1, 50)
	if err != nil || page.Total != 2 {
		t.Fatalf("audit: %+v %v", page, err)
	}
	for _, ev := range page.Events {
		if strings.Contains(ev.OldValue+ev.NewValue, "ftp-password") || ev.IP == "" {
			t.Fatalf("audit event: %+v", ev)
		}
	}
}

func TestFTPDisplayAddr(t *testing.T) {
	for _, c := range []struct{ addr, host, want string }{
		{":2121", "panel.example.com:8080", "panel.example.com:2121"},
		{"0.0.0.0:2121", "panel.example.com", "panel.example.com:2121"},
		{"[::]:2222", "[2001:db8::1]:443", "[2001:db8::1]:2222"},
		{"192.0.2.7:2121", "panel.example.com", "192.0.2.7:2121"},
		{"", "panel.example.com", ""},
	} {
		if got := displayAddr(c.addr, c.host); got != c.want {
			t.Errorf("displayAddr(%q, %q) = %q, want %q", c.addr, c.host, got, c.want)
		}
	}
}
