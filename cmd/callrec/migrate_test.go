package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	"callrec/internal/pgtest"
	"callrec/internal/s3test"
	"callrec/internal/sipptest"
	"callrec/internal/storetest"
	"callrec/models"
)

// serve's and the CLI's tests run on SQLite, or on PostgreSQL with CALLREC_TEST_DB=postgres;
// some against a real S3 server too.
func TestMain(m *testing.M) {
	storetest.UseTemplate(func(dsn string) error {
		s, err := models.Open(dsn)
		if err != nil {
			return err
		}
		return s.Close()
	})
	stopDB, stopS3 := storetest.Enable(), s3test.Enable()
	code := m.Run()
	stopS3()
	stopDB()
	os.Exit(code)
}

func noEnv(string) string { return "" }

// openSQL opens the database of a --db value for reading it behind the product's back.
func openSQL(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver := "sqlite3"
	if isPostgresURL(dsn) {
		driver = "pgx"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestMigrateCommand: --status lists the pending migrations and changes nothing, migrate applies
// them, a second migrate has nothing to do.
func TestMigrateCommand(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.EmptyDSN(t, "")
	var out bytes.Buffer
	if err := run(ctx, []string{"migrate", "--status", "--db", dsn}, noEnv, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1        pending") || !strings.Contains(out.String(), "pending: run callrec migrate") {
		t.Fatalf("status of a new database:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"migrate", "--db", dsn}, noEnv, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "applied 1: baseline") || strings.Contains(out.String(), "pending") {
		t.Fatalf("migrate:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"migrate", "--status", "--db", dsn}, noEnv, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "pending") || !strings.Contains(out.String(), " UTC  baseline") {
		t.Fatalf("status after migrate:\n%s", out.String())
	}
	if strings.Contains(dsn, "@") && strings.Contains(out.String(), strings.Split(strings.TrimPrefix(dsn, "postgres://"), "@")[0]) {
		t.Fatalf("the password is printed:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"migrate", "--db", dsn}, noEnv, &out); err != nil || !strings.Contains(out.String(), "nothing to migrate") {
		t.Fatalf("second migrate: %v\n%s", err, out.String())
	}
}

// TestUnreachableDatabase: a PostgreSQL that does not answer is a clear error at start (main
// exits 1 on it) naming the database without its password, within the connect timeout.
func TestUnreachableDatabase(t *testing.T) {
	port := strconv.Itoa(sipptest.FreePort(t)) // nothing listens there
	dsn := "postgres://callrec:secret-password@127.0.0.1:" + port + "/callrec?sslmode=disable"
	for _, args := range [][]string{
		{"serve", "--db", dsn, "--data", t.TempDir(), "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0"},
		{"migrate", "--status", "--db", dsn},
		{"apikey", "create", "--user", "admin", "--db", dsn},
	} {
		start := time.Now()
		var out bytes.Buffer
		err := run(context.Background(), args, noEnv, &out)
		if err == nil {
			t.Fatalf("%s: no error", args[0])
		}
		msg := err.Error()
		if !strings.Contains(msg, "cannot reach the database postgres://callrec:") || !strings.Contains(msg, "127.0.0.1:"+port) ||
			strings.Contains(msg+out.String(), "secret-password") {
			t.Fatalf("%s: %v", args[0], err)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("%s took %v", args[0], d)
		}
	}
}

// TestCopyDBCommand copies a demo installation from SQLite into PostgreSQL and serves from the
// copy; a second copy is refused; wrong arguments are explained.
func TestCopyDBCommand(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "callrec.db")
	s, err := models.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.EnsurePlatformAdmin(ctx, "platform-admin-pw"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	dst := pgtest.DB(t)
	var out bytes.Buffer
	if err := run(ctx, []string{"copy-db", "--from", src, "--to", dst}, noEnv, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"copied customers", "copied users", "counts checked"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(ctx, []string{"copy-db", "--from", src, "--to", dst}, noEnv, &out); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second copy: %v", err)
	}
	for _, args := range [][]string{{"copy-db"}, {"copy-db", "--from", dst, "--to", dst}, {"copy-db", "--from", src, "--to", src}} {
		if err := run(ctx, args, noEnv, &out); err == nil {
			t.Fatalf("%v accepted", args)
		}
	}
	// The copy is a working installation: the demo logs in there.
	c, err := models.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Authenticate(ctx, "admin", "platform-admin-pw"); err != nil {
		t.Fatal(err)
	}
}
