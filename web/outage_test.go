package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"callrec/internal/pgtest"
)

// TestDatabaseAwayAnswers503: while PostgreSQL is stopped, a logged-in user's pages answer a
// 503 in the user's language (or the browser's), the API a JSON 503 database_unavailable, the
// health check 503, none of it a crash or a logout; when the database is back everything
// answers again with the same session and token.
func TestDatabaseAwayAnswers503(t *testing.T) {
	cluster := pgtest.New(t)
	e := newEnvOn(t, cluster.DB(t), func(*Config) {})
	admin := e.admin() // German: the demo customer's language
	tok := e.token(e.demo.Admin)
	if st, _ := admin.get("/pools"); st != 200 {
		t.Fatalf("pools: %d", st)
	}
	cluster.Stop()
	time.Sleep(1100 * time.Millisecond) // past the read cache's TTL: the user is read again

	st, body := admin.get("/pools")
	if st != http.StatusServiceUnavailable || !strings.Contains(body, "Die Datenbank ist gerade nicht erreichbar") ||
		!strings.Contains(body, `data-testid="error-page"`) {
		t.Fatalf("page while the database is away: %d\n%s", st, body)
	}
	// A visitor without a session: the login page needs one (its CSRF token), so it is a 503
	// too, in the browser's language.
	req, _ := http.NewRequest("GET", e.srv.URL+"/login", nil)
	req.Header.Set("Accept-Language", "fr-FR,fr;q=0.9")
	if resp, err := e.client().http.Do(req); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "La base de données est momentanément injoignable") {
			t.Fatalf("login page while the database is away: %d\n%s", resp.StatusCode, b)
		}
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/api/v1/recordings", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var apiErr struct {
		Error struct{ Code, Message string }
	}
	json.NewDecoder(resp.Body).Decode(&apiErr)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || apiErr.Error.Code != "database_unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("API while the database is away: %d %+v", resp.StatusCode, apiErr)
	}
	if resp, err := http.Get(e.srv.URL + "/healthz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("healthz while away: %v %v", resp, err)
	}

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	if st, body := admin.get("/pools"); st != 200 || !strings.Contains(body, "Demo-Pool") {
		t.Fatalf("pools after the database came back: %d", st)
	}
	if st := e.api(tok, "GET", "/recordings", nil, nil); st != 200 {
		t.Fatalf("API after the database came back: %d", st)
	}
}
