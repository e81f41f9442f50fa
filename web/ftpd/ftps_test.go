package ftpd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"callrec/internal/testtool"
)

func (e *env) curlFTP(user, pass string, extra ...string) (string, string, bool) {
	e.t.Helper()
	curl := testtool.Need(e.t, "curl", "curl")
	args := append([]string{"-sS", "--ssl-reqd", "-k", "--max-time", "30", "--user", user + ":" + pass}, extra...)
	return run(e.t, curl, args...)
}

func TestFTPSCurlListAndDownload(t *testing.T) {
	t.Parallel()
	testtool.Short(t)
	e := newEnv(t)
	base := "ftp://" + e.ftp + "/"
	out, errs, ok := e.curlFTP("ftp-"+subA, passA, base)
	if !ok {
		t.Fatalf("list: %s", errs)
	}
	checkListing(t, "curl root", out, startA)
	out, errs, ok = e.curlFTP("ftp-"+subA, passA, "--list-only", base+startA+"/")
	if !ok {
		t.Fatalf("list folder: %s", errs)
	}
	checkListing(t, "curl folder", out, fileA)
	dst := filepath.Join(t.TempDir(), "got.wav")
	if _, errs, ok = e.curlFTP("ftp-"+subA, passA, "-o", dst, base+startA+"/"+fileA); !ok {
		t.Fatalf("download: %s", errs)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, e.wavA) {
		t.Fatalf("downloaded %d bytes, want the %d of the recording", len(b), len(e.wavA))
	}
	// --ftp-ssl (the older spelling) on the same server.
	if _, errs, ok = e.curlFTP("ftp-"+subA, passA, "--ftp-ssl", "--list-only", base); !ok {
		t.Fatalf("--ftp-ssl: %s", errs)
	}
	k := e.auditKinds(e.custA.ID)
	if k["ftp.login"] < 3 || k["ftp.download"] != 1 {
		t.Fatalf("audit: %v", k)
	}
}

func TestFTPSPlainRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	curl := testtool.Need(t, "curl", "curl")
	out, _, ok := run(t, curl, "-sS", "--max-time", "30", "--user", "ftp-"+subA+":"+passA, "ftp://"+e.ftp+"/"+startA+"/"+fileA)
	if ok || len(out) > 0 {
		t.Fatalf("plain FTP download worked (%d bytes)", len(out))
	}
	out, _, ok = run(t, curl, "-sS", "--max-time", "30", "--user", "ftp-"+subA+":"+passA, "ftp://"+e.ftp+"/")
	if ok || strings.Contains(out, startA) {
		t.Fatalf("plain FTP listing worked: %s", out)
	}
	// TLS on the control connection only (PROT C): logged in, but no transfer in clear.
	out, errs, ok := run(t, curl, "-sS", "-k", "--ftp-ssl-control", "--max-time", "30", "--user", "ftp-"+subA+":"+passA, "ftp://"+e.ftp+"/"+startA+"/"+fileA)
	if ok || len(out) > 0 {
		t.Fatalf("clear data channel worked (%d bytes): %s", len(out), errs)
	}
	if k := e.auditKinds(e.custA.ID); k["ftp.login"] != 1 || k["ftp.download"] != 0 {
		t.Fatalf("a plain login succeeded: %v", k)
	}
}

func TestFTPSWritesRefused(t *testing.T) {
	t.Parallel()
	testtool.Short(t)
	e := newEnv(t)
	base := "ftp://" + e.ftp + "/"
	src := filepath.Join(t.TempDir(), "upload.wav")
	os.WriteFile(src, []byte("new"), 0o600)
	u := "ftp-" + subA
	for name, args := range map[string][]string{
		"upload":        {"-T", src, base + startA + "/upload.wav"},
		"upload root":   {"-T", src, base},
		"append":        {"--append", "-T", src, base + startA + "/" + fileA},
		"create dirs":   {"--ftp-create-dirs", "-T", src, base + "newdir/upload.wav"},
		"mkdir":         {"-Q", "MKD newdir", base},
		"delete":        {"-Q", "DELE " + startA + "/" + fileA, base},
		"rmdir":         {"-Q", "RMD " + startA, base},
		"rename":        {"-Q", "RNFR " + startA + "/" + fileA, "-Q", "RNTO renamed.wav", base},
		"site chmod":    {"-Q", "SITE CHMOD 777 " + startA, base},
		"site symlink":  {"-Q", "SITE SYMLINK /etc/passwd pw", base},
		"mfmt":          {"-Q", "MFMT 20200101000000 " + startA + "/" + fileA, base},
		"store unique":  {"-Q", "STOU", base},
		"allo":          {"-Q", "ALLO 100", "-T", src, base + "upload2.wav"},
		"active (PORT)": {"--ftp-port", "-", "--disable-eprt", base},
	} {
		if _, _, ok := e.curlFTP(u, passA, args...); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	e.unchanged()
}

func TestFTPSPathTricksAndSymlinks(t *testing.T) {
	t.Parallel()
	testtool.Short(t)
	e := newEnv(t)
	base := "ftp://" + e.ftp + "/"
	u := "ftp-" + subA
	for _, p := range []string{
		"../" + subB + "/4930111/rec_other.wav",
		"../../" + subB + "/4930111/rec_other.wav",
		"%2F..%2F" + subB + "%2F4930111%2Frec_other.wav",
		"%2Fetc%2Fpasswd",
		"../../callrec.db",
		"evil/4930111/rec_other.wav",
		"other.wav",
		"passwd",
		"etc/passwd",
		"dbfile.wav",
		"alias/" + fileA,
		startA + "/.rec_partial.wav.tmp0",
	} {
		// multicwd walks the folders with CWD; nocwd sends the whole path with RETR.
		for _, method := range []string{"multicwd", "nocwd"} {
			out, _, ok := e.curlFTP(u, passA, "--path-as-is", "--ftp-method", method, base+p)
			if ok || len(out) > 0 {
				t.Errorf("%s (%s): got %d bytes", p, method, len(out))
			}
		}
	}
	// Listing "up" or "/" shows A's own root, nothing else.
	for _, p := range []string{"../", "../../", "%2F", "%2F..%2F..%2F"} {
		for _, method := range []string{"multicwd", "nocwd"} {
			out, errs, _ := e.curlFTP(u, passA, "--path-as-is", "--ftp-method", method, base+p)
			checkListing(t, "list "+p+" "+method+" "+errs, out, startA)
		}
	}
	for _, p := range []string{"evil/", "etc/", "alias/", "../" + subB + "/"} {
		for _, method := range []string{"multicwd", "nocwd"} {
			// The server answers 450; curl takes a 450 to LIST for an empty folder.
			if out, _, _ := e.curlFTP(u, passA, "--path-as-is", "--ftp-method", method, base+p); len(out) > 0 {
				t.Errorf("list %s (%s): %s", p, method, out)
			}
		}
	}
	// B sees only B's tree; B's credentials cannot reach A's file either.
	out, errs, ok := e.curlFTP("ftp-"+subB, passB, base)
	if !ok || !strings.Contains(out, "4930111") || strings.Contains(out, startA) {
		t.Fatalf("B's listing: %s %s", out, errs)
	}
	for _, p := range []string{startA + "/" + fileA, "../" + subA + "/" + startA + "/" + fileA} {
		if out, _, ok := e.curlFTP("ftp-"+subB, passB, "--path-as-is", base+p); ok || len(out) > 0 {
			t.Errorf("B got A's %s", p)
		}
	}
	// A's password does not open B's account.
	if _, _, ok := e.curlFTP("ftp-"+subB, passA, base); ok {
		t.Fatal("A's password opened B's account")
	}
}

func TestFTPSLoginRefusedWhenNotBooked(t *testing.T) {
	t.Parallel()
	testtool.Short(t)
	e := newEnv(t)
	if _, _, ok := e.curlFTP("ftp-"+subC, passC, "ftp://"+e.ftp+"/"); ok {
		t.Fatal("login without booking worked")
	}
	if r := e.auditReasons("ftp.login_failed"); len(r) != 1 || !strings.Contains(r[0], "not_booked") {
		t.Fatalf("audit: %v", r)
	}
}

func TestFTPSFailedLoginsRateLimited(t *testing.T) {
	t.Parallel()
	testtool.Short(t)
	e := newEnv(t)
	for range 5 {
		if _, _, ok := e.curlFTP("ftp-"+subA, "wrong-password", "ftp://"+e.ftp+"/"); ok {
			t.Fatal("wrong password accepted")
		}
	}
	// The right password is now refused too, from this IP, for this user.
	if _, _, ok := e.curlFTP("ftp-"+subA, passA, "ftp://"+e.ftp+"/"); ok {
		t.Fatal("login after 5 failures was not limited")
	}
	r := e.auditReasons("ftp.login_failed")
	if len(r) != 6 || !strings.Contains(r[0], "rate_limited") || !strings.Contains(r[5], "bad_credentials") {
		t.Fatalf("audit: %v", r)
	}
	if k := e.auditKinds(e.custA.ID); k["ftp.login_failed"] != 6 {
		t.Fatalf("failures not audited for the customer: %v", k)
	}
}

func (e *env) lftp(user, pass, script string) (string, string, bool) {
	e.t.Helper()
	lftp := testtool.Need(e.t, "lftp", "lftp")
	pre := "set ssl:verify-certificate no; set ftp:ssl-force true; set ftp:ssl-protect-data true; " +
		"set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; set cmd:fail-exit true; "
	return run(e.t, lftp, "-u", user+","+pass, "-e", pre+script+"; bye", "ftp://"+e.ftp)
}

func TestFTPSLftp(t *testing.T) {
	t.Parallel()
	testtool.Short(t)
	e := newEnv(t)
	u := "ftp-" + subA
	out, errs, ok := e.lftp(u, passA, "ls; ls "+startA)
	if !ok {
		t.Fatalf("lftp ls: %s", errs)
	}
	checkListing(t, "lftp", out, startA, fileA)
	dir := t.TempDir()
	if _, errs, ok = e.lftp(u, passA, "lcd "+dir+"; get "+startA+"/"+fileA); !ok {
		t.Fatalf("lftp get: %s", errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, fileA)); !bytes.Equal(b, e.wavA) {
		t.Fatalf("lftp downloaded %d bytes, want %d", len(b), len(e.wavA))
	}
	// Climbing out lands in A's own root.
	out, _, _ = e.lftp(u, passA, "cd ../..; ls; cd /; ls")
	checkListing(t, "lftp cd ..", out, startA)
	src := filepath.Join(t.TempDir(), "upload.wav")
	os.WriteFile(src, []byte("new"), 0o600)
	for _, cmd := range []string{
		"put " + src, "put " + src + " -o " + startA + "/upload.wav", "mkdir newdir", "rm " + startA + "/" + fileA,
		"rmdir " + startA, "mv " + startA + "/" + fileA + " renamed.wav", "chmod 777 " + startA,
		"get evil/4930111/rec_other.wav -o " + dir + "/x1", "get other.wav -o " + dir + "/x2",
		"get /etc/passwd -o " + dir + "/x3", "get ../" + subB + "/4930111/rec_other.wav -o " + dir + "/x4",
		"cd evil", "cd etc", "cd alias",
	} {
		if _, _, ok := e.lftp(u, passA, cmd); ok {
			t.Errorf("lftp %q succeeded", cmd)
		}
	}
	for _, x := range []string{"x1", "x2", "x3", "x4"} {
		if st, err := os.Stat(filepath.Join(dir, x)); err == nil && st.Size() > 0 {
			t.Errorf("lftp fetched %s (%d bytes)", x, st.Size())
		}
	}
	e.unchanged()
	// Without TLS lftp cannot log in.
	lftp := testtool.Need(t, "lftp", "lftp")
	if out, _, ok := run(t, lftp, "-u", u+","+passA, "-e",
		"set ftp:ssl-allow false; set net:max-retries 1; set net:timeout 10; set cmd:fail-exit true; ls; bye", "ftp://"+e.ftp); ok || strings.Contains(out, startA) {
		t.Fatalf("lftp without TLS listed: %s", out)
	}
}
