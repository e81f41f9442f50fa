package pgtest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func query(t *testing.T, url, sql string, args ...any) (out string, err error) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, sql, args...).Scan(&out)
	return out, err
}

// Each test gets its own empty database on one server: a table made in one is absent in the other.
func TestDBIsFreshPerTest(t *testing.T) {
	a, b := DB(t), DB(t)
	if a == b {
		t.Fatal("same database twice")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE x (v text)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if _, err := query(t, b, "SELECT count(*)::text FROM x"); err == nil {
		t.Fatal("table of another test's database visible")
	}
	v, err := query(t, a, "SELECT split_part(version(), ' ', 2)")
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv(EnvServer) == "" && !strings.HasPrefix(v, "15.") {
		t.Errorf("server version %s, want 15.x", v)
	}
}

// A cluster of the test's own can be stopped and started again with its data.
func TestClusterRestart(t *testing.T) {
	c := New(t)
	url := c.DB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	c.Stop()
	if _, err := query(t, url, "SELECT v FROM kept"); err == nil {
		t.Fatal("stopped server answered")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if v, err := query(t, url, "SELECT v FROM kept"); err != nil || v != "still here" {
		t.Fatalf("after restart: %q %v", v, err)
	}
	// Only 127.0.0.1 and a password: a wrong one is refused.
	bad := strings.Replace(url, c.password, "wrong", 1)
	if _, err := query(t, bad, "SELECT 'x'"); err == nil {
		t.Fatal("wrong password accepted")
	}
}
