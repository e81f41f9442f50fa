package ftpd_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"callrec/internal/testtool"
	"callrec/models"
)

func (e *env) curlSFTP(user, pass string, extra ...string) (string, string, bool) {
	e.t.Helper()
	curl := testtool.Need(e.t, "curl", "curl")
	// -k: the test does not pin the generated host key in a known_hosts file.
	args := append([]string{"-sS", "-k", "--max-time", "30", "--user", user + ":" + pass}, extra...)
	return run(e.t, curl, args...)
}

func TestSFTPCurlListAndDownload(t *testing.T) {
	t.Parallel()
	testtool.Short(t)
	e := newEnv(t)
	base := "sftp://" + e.sftp + "/"
	out, errs, ok := e.curlSFTP("ftp-"+subA, passA, base)
	if !ok {
		t.Fatalf("list: %s", errs)
	}
	checkListing(t, "curl sftp root", out, startA)
	out, errs, ok = e.curlSFTP("ftp-"+subA, passA, base+startA+"/")
	if !ok {
		t.Fatalf("list folder: %s", errs)
	}
	checkListing(t, "curl sftp folder", out, fileA)
	dst := filepath.Join(t.TempDir(), "got.wav")
	if _, errs, ok = e.curlSFTP("ftp-"+subA, passA, "-o", dst, base+startA+"/"+fileA); !ok {
		t.Fatalf("download: %s", errs)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, e.wavA) {
		t.Fatalf("downloaded %d bytes, want the %d of the recording", len(b), len(e.wavA))
	}
	k := e.auditKinds(e.custA.ID)
	if k["sftp.login"] < 3 || k["sftp.download"] != 1 {
		t.Fatalf("audit: %v", k)
	}
}

func TestSFTPCurlRefusals(t *testing.T) {
	t.Parallel()
	testtool.Short(t)
	e := newEnv(t)
	base := "sftp://" + e.sftp + "/"
	u := "ftp-" + subA
	src := filepath.Join(t.TempDir(), "upload.wav")
	os.WriteFile(src, []byte("new"), 0o600)
	f := "/" + startA + "/" + fileA
	for name, args := range map[string][]string{
		"upload":      {"-T", src, base + startA + "/upload.wav"},
		"create dirs": {"--ftp-create-dirs", "-T", src, base + "newdir/upload.wav"},
		"append":      {"--append", "-T", src, base + startA + "/" + fileA},
		"mkdir":       {"-Q", "mkdir /newdir", base},
		"rm":          {"-Q", "rm " + f, base},
		"rmdir":       {"-Q", "rmdir /" + startA, base},
		"rename":      {"-Q", "rename " + f + " /renamed.wav", base},
		"symlink":     {"-Q", "symlink /etc/passwd /pw", base},
		"ln":          {"-Q", "ln " + f + " /hard.wav", base},
		"chmod":       {"-Q", "chmod 777 " + f, base},
		"chown":       {"-Q", "chown 0 " + f, base},
	} {
		if _, _, ok := e.curlSFTP(u, passA, args...); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, p := range []string{
		"../" + subB + "/4930111/rec_other.wav",
		"../../" + subB + "/4930111/rec_other.wav",
		"%2E%2E/" + subB + "/4930111/rec_other.wav",
		"/etc/passwd",
		"../../callrec.db",
		"../../sftp_host_ed25519_key",
		"evil/4930111/rec_other.wav",
		"other.wav", "passwd", "etc/passwd", "dbfile.wav",
		"alias/" + fileA,
		startA + "/.rec_partial.wav.tmp0",
	} {
		if out, _, ok := e.curlSFTP(u, passA, "--path-as-is", base+p); ok || len(out) > 0 {
			t.Errorf("%s: got %d bytes", p, len(out))
		}
	}
	for _, p := range []string{"../", "../../", "~/../"} {
		out, _, _ := e.curlSFTP(u, passA, "--path-as-is", base+p)
		checkListing(t, "sftp list "+p, out, startA)
	}
	for _, p := range []string{"evil/", "etc/", "alias/", "../" + subB + "/"} {
		if out, _, ok := e.curlSFTP(u, passA, "--path-as-is", base+p); ok || len(out) > 0 {
			t.Errorf("list %s: %s", p, out)
		}
	}
	e.unchanged()
	// B sees only B's tree.
	out, errs, ok := e.curlSFTP("ftp-"+subB, passB, base)
	if !ok || !strings.Contains(out, "4930111") || strings.Contains(out, startA) {
		t.Fatalf("B's listing: %s %s", out, errs)
	}
	if out, _, ok := e.curlSFTP("ftp-"+subB, passB, "--path-as-is", base+"../"+subA+"/"+startA+"/"+fileA); ok || len(out) > 0 {
		t.Fatal("B got A's recording")
	}
	// Not booked: refused and audited.
	if _, _, ok := e.curlSFTP("ftp-"+subC, passC, base); ok {
		t.Fatal("SFTP login without booking worked")
	}
	if r := e.auditReasons("sftp.login_failed"); len(r) != 1 || !strings.Contains(r[0], "not_booked") {
		t.Fatalf("audit: %v", r)
	}
}

func TestSFTPFailedLoginsRateLimited(t *testing.T) {
	t.Parallel()
	testtool.Short(t)
	e := newEnv(t)
	for range 5 {
		if _, _, ok := e.curlSFTP("ftp-"+subA, "wrong-password", "sftp://"+e.sftp+"/"); ok {
			t.Fatal("wrong password accepted")
		}
	}
	if _, _, ok := e.curlSFTP("ftp-"+subA, passA, "sftp://"+e.sftp+"/"); ok {
		t.Fatal("login after 5 failures was not limited")
	}
	if k := e.auditKinds(e.custA.ID); k["sftp.login_failed"] < 6 || k["sftp.login"] != 0 {
		t.Fatalf("audit: %v", k)
	}
}

// TestFailuresSharedAcrossProtocols: guesses over FTPS and SFTP draw on one allowance.
func TestFailuresSharedAcrossProtocols(t *testing.T) {
	t.Parallel()
	testtool.Short(t)
	e := newEnv(t)
	for range 3 {
		e.curlFTP("ftp-"+subA, "wrong-password", "ftp://"+e.ftp+"/")
	}
	for range 2 {
		e.curlSFTP("ftp-"+subA, "wrong-password", "sftp://"+e.sftp+"/")
	}
	if _, _, ok := e.curlSFTP("ftp-"+subA, passA, "sftp://"+e.sftp+"/"); ok {
		t.Fatal("SFTP login after 3 FTPS and 2 SFTP failures was not limited")
	}
	if _, _, ok := e.curlFTP("ftp-"+subA, passA, "ftp://"+e.ftp+"/"); ok {
		t.Fatal("FTPS login after 5 failures was not limited")
	}
}

// TestSFTPGoClient checks what curl cannot ask: no shell or exec, no port forwarding, no
// symlinks read or made, no write handles, and the same view after a reconnect.
func TestSFTPGoClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cc := &ssh.ClientConfig{User: "ftp-" + subA, Auth: []ssh.AuthMethod{ssh.Password(passA)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second}
	conn, err := ssh.Dial("tcp", e.sftp, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := sess.CombinedOutput("cat /etc/passwd"); err == nil || bytes.Contains(out, []byte("root:")) {
		t.Fatalf("exec worked: %s", out)
	}
	sess, err = conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err == nil {
		t.Fatal("shell accepted")
	}
	if _, err := conn.Dial("tcp", "127.0.0.1:22"); err == nil {
		t.Fatal("direct-tcpip forwarding accepted")
	}
	if _, err := conn.Listen("tcp", "127.0.0.1:0"); err == nil {
		t.Fatal("remote forwarding accepted")
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wd, _ := c.Getwd()
	if fis, err := c.ReadDir("/"); err != nil || len(fis) != 1 || fis[0].Name() != startA {
		t.Fatalf("ReadDir /: %v %v (wd %q)", names(fis), err, wd)
	}
	f, err := c.Open("/" + startA + "/" + fileA)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(b, e.wavA) {
		t.Fatalf("read %d bytes", len(b))
	}
	if _, err := c.OpenFile("/"+startA+"/"+fileA, os.O_RDWR); !isPerm(err) {
		t.Errorf("open for writing: %v", err)
	}
	if _, err := c.Create("/x.wav"); !isPerm(err) {
		t.Errorf("create: %v", err)
	}
	if err := c.Symlink("/etc/passwd", "/pw"); !isPerm(err) {
		t.Errorf("symlink: %v", err)
	}
	if err := c.Chtimes("/"+startA, time.Now(), time.Now()); !isPerm(err) {
		t.Errorf("chtimes: %v", err)
	}
	if err := c.Truncate("/"+startA+"/"+fileA, 0); !isPerm(err) {
		t.Errorf("truncate: %v", err)
	}
	for _, p := range []string{"/evil", "/etc", "/passwd", "/other.wav", "/alias", "/dbfile.wav"} {
		if _, err := c.Lstat(p); err == nil {
			t.Errorf("lstat %s: visible", p)
		}
		if _, err := c.Stat(p); err == nil {
			t.Errorf("stat %s: visible", p)
		}
		if target, err := c.ReadLink(p); err == nil {
			t.Errorf("readlink %s: %q", p, target)
		}
	}
	if rp, err := c.RealPath("../../.."); err != nil || rp != "/" {
		t.Errorf("realpath ../../..: %q %v", rp, err)
	}
	e.unchanged()

	// Cancelling the module ends access for the open session too.
	root := models.Actor{Username: "root", Role: models.RolePlatformAdmin}
	if _, err := e.store.CancelFTPAccess(context.Background(), root, e.custA.ID, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadDir("/"); !isPerm(err) {
		t.Errorf("listing after cancellation: %v", err)
	}
	if _, err := c.Open("/" + startA + "/" + fileA); !isPerm(err) {
		t.Errorf("open after cancellation: %v", err)
	}
}

func names(fis []fs.FileInfo) []string {
	var out []string
	for _, fi := range fis {
		out = append(out, fi.Name())
	}
	return out
}

func isPerm(err error) bool {
	// The client turns SSH_FX_PERMISSION_DENIED into fs.ErrPermission.
	var se *sftp.StatusError
	return errors.Is(err, fs.ErrPermission) || errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxPermissionDenied
}
