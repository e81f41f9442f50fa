// Package pgtest gives tests a real PostgreSQL: a throwaway cluster (initdb into a temporary
// folder, run as the unprivileged postgres user when the tests run as root, listening only on a
// free port of 127.0.0.1) or the server CALLREC_TEST_POSTGRES names, and a fresh database per test.
//
// A package that uses DB calls Main from its TestMain, so the shared cluster is stopped and its
// folder removed when the package's tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Tests that restart or stop PostgreSQL start a cluster of their own with New.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"callrec/internal/testtool"
)

// EnvServer names an existing server to use instead of a throwaway cluster: a postgres:// URL
// of a role that may create databases (each test gets its own, dropped afterwards).
const EnvServer = "CALLREC_TEST_POSTGRES"

// Cluster is a running throwaway PostgreSQL.
type Cluster struct {
	root     string // the folder given, holding the data folder and the log
	dir, bin string
	port     int
	password string
	cred     *syscall.Credential // nil when the tests do not run as root
	cmd      *exec.Cmd
	exited   chan struct{}
	log      string
}

var (
	shared struct {
		once sync.Once
		url  string
		c    *Cluster
		err  error
	}
	mainCalled atomic.Bool
	dbSeq      atomic.Int64
)

// Main runs the package's tests and then stops the shared cluster (when one was started).
func Main(m *testing.M) {
	stop := Enable()
	code := m.Run()
	stop()
	os.Exit(code)
}

// Enable is Main for a TestMain that also runs another helper's: call it before m.Run and the
// returned stop after it.
func Enable() (stop func()) {
	mainCalled.Store(true)
	return func() {
		if os.Getenv(EnvServer) != "" {
			dropTemplates()
		}
		if shared.c != nil {
			shared.c.stop()
			os.RemoveAll(shared.c.root)
		}
	}
}

// DB creates an empty database for t on the shared server and returns its URL; it is dropped
// when t ends. Without PostgreSQL installed the test is skipped naming the Debian package, and
// fails when CALLREC_E2E=1.
func DB(t testing.TB) string {
	t.Helper()
	return createDB(t, server(t), "template0")
}

// server is the URL of the shared server's postgres database (starting the throwaway cluster
// on first use).
func server(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvServer)
	if base == "" {
		if !mainCalled.Load() {
			t.Fatal("pgtest: the package's TestMain must call pgtest.Main(m) so the shared cluster is stopped")
		}
		shared.once.Do(func() {
			bin, err := binDir()
			if err != nil {
				shared.err = err
				return
			}
			dir, err := os.MkdirTemp("", "callrec-pgtest-")
			if err != nil {
				shared.err = err
				return
			}
			shared.c, shared.err = start(dir, bin)
			if shared.err != nil {
				os.RemoveAll(dir)
				return
			}
			shared.url = shared.c.URL("postgres")
		})
		if shared.err != nil {
			need(t, shared.err)
		}
		base = shared.url
	}
	return base
}

var tmpl struct {
	once sync.Once
	name string
	err  error
}

// DBFrom is DB filled the way prepare fills an empty database (given its URL; it must close
// its connections before returning): prepare runs once per test binary on a template database,
// and each test gets a copy of it, which is much cheaper than preparing every test's database
// (a schema's migrations). The template goes with the cluster, or at the end of Main on a
// CALLREC_TEST_POSTGRES server.
func DBFrom(t testing.TB, prepare func(url string) error) string {
	t.Helper()
	base := server(t)
	tmpl.once.Do(func() {
		tmpl.name = fmt.Sprintf("tmpl_%d_%s", os.Getpid(), randomHex(4))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tmpl.err = err
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+tmpl.name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
			tmpl.err = err
			return
		}
		templates.Store(base, tmpl.name)
		u, _ := url.Parse(base)
		u.Path = "/" + tmpl.name
		tmpl.err = prepare(u.String())
	})
	if tmpl.err != nil {
		t.Fatalf("pgtest: preparing the template database: %v", tmpl.err)
	}
	return createDB(t, base, tmpl.name)
}

// templates are the template databases made on CALLREC_TEST_POSTGRES servers (server URL ->
// name), dropped when Main ends.
var templates sync.Map

func dropTemplates() {
	templates.Range(func(base, name any) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, base.(string)); err == nil {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name.(string)+" WITH (FORCE)")
			conn.Close(context.Background())
		}
		return true
	})
}

// New starts a cluster of t's own in t.TempDir(), stopped when t ends: for tests that stop,
// restart or break the server.
func New(t testing.TB) *Cluster {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		need(t, err)
	}
	dir := t.TempDir()
	c, err := start(dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.stop)
	return c
}

// URL is the connection URL of database db on c.
func (c *Cluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", c.password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// DB creates an empty database for t on c and returns its URL.
func (c *Cluster) DB(t testing.TB) string {
	t.Helper()
	return createDB(t, c.URL("postgres"), "template0")
}

// Stop shuts the server down (fast mode: open connections are cut); Start brings it back on
// the same port with the same data.
func (c *Cluster) Stop() { c.stop() }

// Start starts a stopped cluster again.
func (c *Cluster) Start() error {
	if c.cmd != nil {
		return nil
	}
	return c.run()
}

// errMissing is a PostgreSQL that is not installed (skip or fail, by CALLREC_E2E).
type errMissing struct{ msg string }

func (e errMissing) Error() string { return e.msg }

func need(t testing.TB, err error) {
	t.Helper()
	var m errMissing
	if !errors.As(err, &m) {
		t.Fatal(err)
	}
	if testtool.E2E() {
		t.Fatal(m.msg + " (CALLREC_E2E=1 requires it)")
	}
	t.Skip(m.msg)
}

// binDir finds PostgreSQL 15's server programs (Debian keeps them out of PATH), or the newest
// installed version's.
func binDir() (string, error) {
	cands := []string{"/usr/lib/postgresql/15/bin"}
	more, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	cands = append(cands, more...)
	if p, err := exec.LookPath("initdb"); err == nil {
		cands = append(cands, filepath.Dir(p))
	}
	for _, d := range cands {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errMissing{"PostgreSQL not found (initdb): install the Debian package postgresql"}
}

func start(dir, bin string) (*Cluster, error) {
	c := &Cluster{root: dir, dir: filepath.Join(dir, "pg"), bin: bin, log: filepath.Join(dir, "postgres.log"), password: randomHex(16)}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root: run them as the package's postgres user,
		// which must be able to reach the folder (t.TempDir's parents are private to root).
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, errMissing{"no postgres user to run PostgreSQL as (tests run as root): install the Debian package postgresql"}
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := reachable(dir); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(pwfile, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", c.dir, "-U", "postgres", "--pwfile", pwfile,
		"--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	os.Remove(pwfile)
	// A free port can be taken between choosing and binding it: try a few.
	var err error
	for range 5 {
		c.port, err = freePort()
		if err != nil {
			return nil, err
		}
		if err = c.run(); err == nil {
			return c, nil
		}
	}
	return nil, err
}

// reachable lets other users traverse (not list) every folder from dir up to the root.
func reachable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, st.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("pgtest: letting the postgres user reach %s: %w", dir, err)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (c *Cluster) run() error {
	logf, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	// Durability is not what these tests test: fsync off makes a test database cheap.
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", c.dir, "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
		"-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: a test binary killed before its cleanup takes its server with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			c.cmd, c.exited = cmd, exited
			return nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(c.log)
			return fmt.Errorf("pgtest: postgres exited at start: %s", tail(string(b), 2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("pgtest: postgres not ready within 30 s: %v", err)
		}
	}
}

func (c *Cluster) stop() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
}

// createDB makes a database with a unique name on the server at base, a copy of template, and
// drops it when t ends.
func createDB(t testing.TB, base, template string) string {
	t.Helper()
	name := fmt.Sprintf("t_%d_%d_%s", os.Getpid(), dbSeq.Add(1), randomHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", redact(base), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template+" ENCODING 'UTF8'"); err != nil {
		t.Fatalf("pgtest: creating database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return // the test stopped the server; a throwaway cluster goes with its folder
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
