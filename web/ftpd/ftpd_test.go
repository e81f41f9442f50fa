package ftpd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"callrec/internal/ratelimit"
	"callrec/internal/storetest"
	"callrec/models"
	"callrec/web/ftpd"
)

const (
	subA, subB, subC = "337826", "555001", "777001"
	startA           = "4971121843140"
	fileA            = "rec_20261120_101500_337826_4971121843140_49711218431440__4915258878874.wav"
	passA, passB     = "secret-pass-a1", "secret-pass-b2"
	passC            = "secret-pass-c3"
)

// env is a store with three customers (A and B booked FTP access, C did not), their recordings on
// disk, traps planted in A's folder, and both servers listening on 127.0.0.1.
type env struct {
	t          *testing.T
	store      *models.Store
	data       string
	ftp, sftp  string // host:port
	custA      models.Customer
	custB      models.Customer
	wavA, wavB []byte
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	st, err := models.Open(storetest.DSN(t, data))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root := models.Actor{Username: "root", Role: models.RolePlatformAdmin}
	e := &env{t: t, store: st, data: data}
	mk := func(name, sub, pass string, book bool) models.Customer {
		c, err := st.CreateCustomer(ctx, root, models.CustomerInput{Name: name, SubscriberID: sub, Language: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.SetFTPCredentials(ctx, root, "127.0.0.1", c.ID, models.FTPCredentialsInput{
			Username: models.DefaultFTPUsername(sub), Password: pass}); err != nil {
			t.Fatal(err)
		}
		if book {
			if _, _, err := st.BookFTPAccess(ctx, root, c.ID, "127.0.0.1"); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	e.custA = mk("Acme", subA, passA, true)
	e.custB = mk("Other AG", subB, passB, true)
	mk("Unbooked", subC, passC, false)

	e.wavA = wav(4000, 7)
	e.wavB = wav(3000, 99)
	write(t, filepath.Join(data, "call_recording", subA, startA, fileA), e.wavA)
	write(t, filepath.Join(data, "call_recording", subB, "4930111", "rec_other.wav"), e.wavB)
	write(t, filepath.Join(data, "call_recording", subA, startA, ".rec_partial.wav.tmp0"), []byte("hidden"))
	// Traps: links out of A's folder (relative into B's, absolute to /etc), a link inside it.
	a := filepath.Join(data, "call_recording", subA)
	for link, target := range map[string]string{
		"evil":       "../" + subB,
		"etc":        "/etc",
		"passwd":     "/etc/passwd",
		"other.wav":  "../" + subB + "/4930111/rec_other.wav",
		"alias":      startA,
		"dbfile.wav": "../../callrec.db",
	} {
		if err := os.Symlink(target, filepath.Join(a, link)); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// BookingRecheck: ask the store on every operation, so a cancellation shows at once.
	// One failure count for both protocols, as serve wires them.
	cfg := ftpd.Config{Addr: "127.0.0.1:0", DataDir: data, Logger: log, BookingRecheck: time.Nanosecond,
		Failures: ratelimit.New(5, 15*time.Minute)}
	fs, err := ftpd.NewFTPS(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Listen(); err != nil {
		t.Fatal(err)
	}
	go fs.Serve(ctx)
	t.Cleanup(func() { fs.Close() })
	ss, err := ftpd.NewSFTP(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.Listen(); err != nil {
		t.Fatal(err)
	}
	go ss.Serve(ctx)
	t.Cleanup(func() { ss.Close() })
	e.ftp, e.sftp = fs.Addr(), ss.Addr()
	return e
}

// wav builds a small 16-bit 8 kHz mono WAV with a recognisable pattern.
func wav(frames int, seed int16) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(36+frames*2))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16)} {
		binary.Write(&b, le, v)
	}
	b.WriteString("data")
	binary.Write(&b, le, uint32(frames*2))
	for i := range frames {
		binary.Write(&b, le, int16(i)*seed)
	}
	return b.Bytes()
}

func write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// run runs a tool with a deadline; it returns stdout, stderr and whether it exited 0.
func run(t *testing.T, bin string, args ...string) (string, string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %v: %v in %v: %s", filepath.Base(bin), args, err, time.Since(start).Round(time.Millisecond), strings.TrimSpace(errb.String()))
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out; stderr: %s", bin, args, errb.String())
	}
	return out.String(), errb.String(), err == nil
}

func (e *env) auditKinds(customerID uint) map[string]int {
	e.t.Helper()
	page, err := e.store.AuditEvents(context.Background(), models.Actor{Role: models.RolePlatformAdmin},
		models.AuditFilter{CustomerID: customerID}, 1, 500)
	if err != nil {
		e.t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, ev := range page.Events {
		kinds[ev.Kind]++
		if strings.HasSuffix(ev.Kind, "login_failed") || strings.HasSuffix(ev.Kind, ".login") {
			if ev.IP != "127.0.0.1" {
				e.t.Errorf("%s audited with IP %q", ev.Kind, ev.IP)
			}
		}
	}
	return kinds
}

func (e *env) auditReasons(kind string) []string {
	e.t.Helper()
	page, err := e.store.AuditEvents(context.Background(), models.Actor{Role: models.RolePlatformAdmin},
		models.AuditFilter{Kind: kind}, 1, 500)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range page.Events {
		out = append(out, ev.Username+":"+ev.NewValue)
	}
	return out
}

// hidden are names that must never show in A's listings.
var hidden = []string{"evil", "etc", "passwd", "other.wav", "alias", "dbfile.wav", ".rec_partial", "4930111", "rec_other"}

func checkListing(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: listing lacks %q:\n%s", what, w, out)
		}
	}
	for _, h := range hidden {
		if strings.Contains(out, h) {
			t.Errorf("%s: listing shows %q:\n%s", what, h, out)
		}
	}
}

// unchanged checks A's folder still holds exactly what the test put there.
func (e *env) unchanged() {
	e.t.Helper()
	var names []string
	filepath.WalkDir(filepath.Join(e.data, "call_recording"), func(p string, d os.DirEntry, err error) error {
		if err == nil && p != filepath.Join(e.data, "call_recording") {
			r, _ := filepath.Rel(filepath.Join(e.data, "call_recording"), p)
			names = append(names, r)
		}
		return nil
	})
	got := strings.Join(names, " ")
	for _, n := range []string{"337826/" + startA + "/" + fileA, "555001/4930111/rec_other.wav"} {
		if !strings.Contains(got, n) {
			e.t.Errorf("file %s gone: %s", n, got)
		}
	}
	for _, bad := range []string{"upload", "newdir", "renamed"} {
		if strings.Contains(got, bad) {
			e.t.Errorf("a write got through: %s", got)
		}
	}
	b, err := os.ReadFile(filepath.Join(e.data, "call_recording", subA, startA, fileA))
	if err != nil || !bytes.Equal(b, e.wavA) {
		e.t.Errorf("A's recording changed")
	}
}
