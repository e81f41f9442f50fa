package ftpd

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"callrec/models/files"
)

// FuzzRel: whatever a client sends, the path used inside the root is "." or clean, relative and
// free of "..".
func FuzzRel(f *testing.F) {
	for _, s := range []string{"", "/", "..", "../..", "/../etc/passwd", "a/../../b", "\\..\\..\\x", "a//b/./c", "~/../x", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r := rel(name)
		if r == "." {
			return
		}
		if path.IsAbs(r) || path.Clean(r) != r || r == ".." || strings.HasPrefix(r, "../") || strings.Contains(r, "/../") {
			t.Fatalf("rel(%q) = %q", name, r)
		}
	})
}

func newView(t *testing.T) (*view, string) {
	t.Helper()
	dir := t.TempDir()
	sub := filepath.Join(dir, "call_recording", "1")
	if err := os.MkdirAll(filepath.Join(sub, "100"), 0o750); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(sub, "100", "a.wav"), []byte("RIFF"), 0o640)
	os.WriteFile(filepath.Join(dir, "secret"), []byte("secret"), 0o640)
	data, err := files.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { data.Close() })
	v, err := customerView(data, "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return v, sub
}

// TestViewSpecialFiles: a FIFO, a socket-like special file or a symlink in the folder is neither
// listed nor opened (opening a FIFO would block the session forever).
func TestViewSpecialFiles(t *testing.T) {
	v, sub := newView(t)
	if err := syscall.Mkfifo(filepath.Join(sub, "100", "fifo.wav"), 0o640); err != nil {
		t.Skip("no mkfifo:", err)
	}
	os.Symlink("a.wav", filepath.Join(sub, "100", "inside.wav"))
	os.Symlink("../../../secret", filepath.Join(sub, "100", "outside.wav"))
	fis, err := v.readDir("/100")
	if err != nil || len(fis) != 1 || fis[0].Name() != "a.wav" {
		t.Fatalf("readDir: %v %v", fis, err)
	}
	for _, n := range []string{"/100/fifo.wav", "/100/inside.wav", "/100/outside.wav", "/../../secret", "/100/a.wav/x"} {
		if f, err := v.Open(n); err == nil {
			f.Close()
			t.Errorf("open %s worked", n)
		}
		if _, err := v.Stat(n); err == nil {
			t.Errorf("stat %s worked", n)
		}
	}
	f, err := v.Open("/../100/../100/a.wav")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "RIFF" {
		t.Fatalf("read %q", b)
	}
	// Writes through the afero face are refused with a permission error.
	if _, err := v.OpenFile("/100/a.wav", os.O_WRONLY, 0); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("OpenFile write: %v", err)
	}
	if err := v.Rename("/100/a.wav", "/b.wav"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("rename: %v", err)
	}
	if err := v.RemoveAll("/"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("remove: %v", err)
	}
	if f, err := v.Open("/100/a.wav"); err == nil {
		if _, err := f.Write([]byte("x")); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("write: %v", err)
		}
		f.Close()
	}
}

// TestCustomerRootSymlinked: when call_recording/<id> itself is a link to another customer's
// folder, the view shows nothing of it instead of following it.
func TestCustomerRootSymlinked(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "call_recording", "2"), 0o750)
	os.WriteFile(filepath.Join(dir, "call_recording", "2", "theirs.wav"), []byte("RIFF"), 0o640)
	os.Symlink("2", filepath.Join(dir, "call_recording", "1"))
	data, err := files.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	v, err := customerView(data, "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if fis, err := v.readDir("/"); err != nil || len(fis) != 0 {
		t.Fatalf("followed a symlinked customer folder: %v %v", fis, err)
	}
	if f, err := v.Open("/theirs.wav"); err == nil {
		f.Close()
		t.Fatal("opened another customer's file through a symlinked folder")
	}
	for _, bad := range []string{"", "..", "1/..", "../x"} {
		if _, err := customerView(data, bad, nil); err == nil {
			t.Errorf("subscriber %q accepted", bad)
		}
	}
}

// TestConnLimitPerIP: beyond the limit a new connection is closed at once; closing one frees a slot.
func TestConnLimitPerIP(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitPerIP(inner, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	first, second := <-accepted, <-accepted
	// The third was closed by the listener: its read ends.
	if _, err := clients[2].Read(make([]byte, 1)); err == nil {
		t.Fatal("third connection stayed open")
	}
	first.Close()
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	(<-accepted).Close()
	second.Close()
}

func TestPassiveIPv4(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for in, want := range map[string]string{"": "", "192.0.2.7": "192.0.2.7", "::1": "", "localhost": "127.0.0.1", "no-such-host.invalid": ""} {
		if got := passiveIPv4(in, log); got != want {
			t.Errorf("passiveIPv4(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkReadDir100k lists a folder of 100,000 recordings the way LIST/MLSD and SFTP readdir do.
func BenchmarkReadDir100k(b *testing.B) {
	dir := b.TempDir()
	sub := filepath.Join(dir, "call_recording", "1", "100")
	if err := os.MkdirAll(sub, 0o750); err != nil {
		b.Fatal(err)
	}
	for i := range 100_000 {
		f, err := os.Create(filepath.Join(sub, "rec_20261120_101500_1_100_"+strconv.Itoa(i)+"__4915258878874.wav"))
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	data, _ := files.NewLocal(dir)
	defer data.Close()
	v, err := customerView(data, "1", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		fis, err := v.readDir("/100")
		if err != nil || len(fis) != 100_000 {
			b.Fatal(len(fis), err)
		}
	}
}
