package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"callrec/internal/s3test"
	"callrec/internal/sipptest"
	"callrec/internal/testtool"
)

// TestCallRecordedIntoS3: `serve --storage s3://...` against a real SeaweedFS. A sipp call is
// recorded into the node's spool and uploaded at its end; the spool copy goes; the recording
// is listed, played with Range byte-identical to the object, drawn as a waveform, downloaded
// as ZIP, over FTPS and over SFTP; retention deletes it from the bucket, audited.
func TestCallRecordedIntoS3(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	curl := testtool.Need(t, "curl", "curl")
	b := s3test.New(t)
	data := t.TempDir()
	ftp := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	sftp := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	pasv := sipptest.FreePort(t)
	args := []string{"--storage", "s3://" + b.Name + "/node1", "--ftp", ftp, "--ftp-passive-ports", fmt.Sprintf("%d-%d", pasv, pasv+20), "--sftp", sftp}
	p := startProductIn(t, data, b.Env(), args...)
	tok := p.token("demo-admin")
	p.bookDemoPool(tok)

	if callerErr, calleeErr := sipptest.Run(t, p.sip, p.trunkPort, sipptest.Call{From: "49711218431440", Dialed: "49711218431431", HoldMS: 8000}); callerErr != nil || calleeErr != nil {
		t.Fatalf("sipp: caller %v, callee %v\n%s", callerErr, calleeErr, p.out)
	}

	// Listed, and stored: uploaded, checked, gone from the spool.
	var rec struct {
		ID      uint   `json:"id"`
		Path    string `json:"path"`
		Name    string `json:"name"`
		Size    int64  `json:"size"`
		Storage string `json:"storage"`
		SHA256  string `json:"sha256"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var list struct {
			Recordings []struct {
				ID uint `json:"id"`
			} `json:"recordings"`
		}
		if st := p.api(tok, "GET", "/recordings", nil, &list); st == 200 && len(list.Recordings) == 1 {
			p.api(tok, "GET", "/recordings/"+strconv.Itoa(int(list.Recordings[0].ID)), nil, &rec)
			if rec.Storage == "stored" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("recording not stored within 30 s: %+v\n%s", rec, p.out)
		}
	}
	if _, err := os.Stat(filepath.Join(data, filepath.FromSlash(rec.Path))); !os.IsNotExist(err) {
		t.Errorf("spool copy kept after the upload: %v", err)
	}
	s3c, err := b.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o, err := s3c.GetObject(ctx, b.Name, "node1/"+rec.Path, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(o)
	if err != nil || len(want) < 40000 || int64(len(want)) != rec.Size {
		t.Fatalf("object: %d bytes (%v), recording says %d", len(want), err, rec.Size)
	}
	if !bytes.Equal(want[:4], []byte("RIFF")) {
		t.Fatal("the object is not the WAV")
	}

	// Played: ranges byte-identical to the object, and the whole file.
	id := strconv.Itoa(int(rec.ID))
	for _, rg := range [][2]int{{0, 43}, {1000, 30999}, {len(want) - 100, len(want) - 1}} {
		got, st := p.get(tok, "/api/v1/recordings/"+id+"/audio", fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]))
		if st != http.StatusPartialContent || !bytes.Equal(got, want[rg[0]:rg[1]+1]) {
			t.Fatalf("range %v: %d, %d bytes", rg, st, len(got))
		}
	}
	if got, st := p.get(tok, "/api/v1/recordings/"+id+"/audio", ""); st != 200 || !bytes.Equal(got, want) {
		t.Fatalf("whole file: %d, %d bytes", st, len(got))
	}
	// Waveform: computed at the call's end, from the spool copy.
	var wf struct {
		Buckets int   `json:"buckets"`
		Peaks   []int `json:"peaks"`
	}
	if st := p.api(tok, "GET", "/recordings/"+id+"/waveform", nil, &wf); st != 200 || wf.Buckets != 1000 || len(wf.Peaks) != 1000 {
		t.Fatalf("waveform: %d %d buckets", st, wf.Buckets)
	}
	loud := 0
	for _, v := range wf.Peaks {
		if v > 10 {
			loud++
		}
	}
	if loud < 100 {
		t.Errorf("waveform of a call with two voices has %d loud buckets", loud)
	}

	// The File Browser's recording page says where the file is.
	web := p.login("demo-admin", p.adminPW)
	if page := web.page("/recordings/" + id); !strings.Contains(page, `data-testid="storage">gespeichert<`) { // the demo customer's German
		t.Errorf("recording page does not show the storage state")
	}
	// ZIP from the File Browser.
	zb := web.post("/recordings/bulk", url.Values{"id": {id}, "action": {"zip"}, "back": {"/files"}})
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil || len(zr.File) != 1 {
		t.Fatalf("zip: %v (%d bytes)", err, len(zb))
	}
	zf, _ := zr.File[0].Open()
	got, _ := io.ReadAll(zf)
	if zr.File[0].Name != rec.Name || !bytes.Equal(got, want) {
		t.Fatalf("zip entry %s differs", zr.File[0].Name)
	}

	// FTPS and SFTP: the customer's folder, read from the bucket.
	if st := p.api(tok, "PUT", "/ftp-access/booking", nil, nil); st != 200 && st != 201 {
		t.Fatalf("FTP access booking: %d", st)
	}
	var cred struct {
		Username string `json:"username"`
	}
	if st := p.api(tok, "PUT", "/ftp-access/credentials", map[string]string{"username": "rec-337826", "password": "ftp-password-1234"}, &cred); st != 200 && st != 201 {
		t.Fatalf("FTP credentials: %d", st)
	}
	rel := strings.TrimPrefix(rec.Path, "call_recording/337826/")
	for _, u := range []string{"ftp://" + ftp + "/" + rel, "sftp://" + sftp + "/" + rel} {
		out, err := exec.Command(curl, "-sS", "--ssl-reqd", "-k", "--max-time", "30", "--user", cred.Username+":ftp-password-1234", u).Output()
		if err != nil || !bytes.Equal(out, want) {
			t.Fatalf("%s: %v, %d bytes", u, err, len(out))
		}
	}

	// Retention: the call made 40 days old, a 30-day retention, the next start deletes it.
	if st := p.api(tok, "PATCH", "/pools/"+p.poolID(tok)+"/call-recording", map[string]any{"retention_days": 30}, nil); st != 200 {
		t.Fatalf("retention: %d", st)
	}
	p.stop()
	db := openSQL(t, p.db)
	if _, err := db.Exec("UPDATE files SET call_at = $1 WHERE path = $2", time.Now().Add(-40*24*time.Hour).UTC(), rec.Path); err != nil {
		t.Fatal(err)
	}
	db.Close()
	p2 := startProductIn(t, data, b.Env(), args...)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, err := s3c.StatObject(ctx, b.Name, "node1/"+rec.Path, minio.StatObjectOptions{})
		if err != nil && minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention left the object: %v\n%s", err, p2.out)
		}
	}
	if st := p2.api(tok, "GET", "/recordings/"+id, nil, nil); st != http.StatusNotFound {
		t.Errorf("recording after retention: %d", st)
	}
	var audit struct {
		Events []struct {
			Kind   string `json:"kind"`
			Object string `json:"object"`
		} `json:"events"`
	}
	p2.api(tok, "GET", "/audit-events?kind=recording.deleted", nil, &audit)
	found := false
	for _, e := range audit.Events {
		found = found || (e.Kind == "recording.deleted" && e.Object == rec.Path)
	}
	if !found {
		t.Errorf("retention's deletion not audited: %+v", audit.Events)
	}
}

// TestServeRefusesWrongS3Keys: wrong keys stop the start with an error that says so.
func TestServeRefusesWrongS3Keys(t *testing.T) {
	b := s3test.New(t)
	env := b.Env()
	env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
	var out bytes.Buffer
	args := []string{"serve", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0", "--storage", "s3://" + b.Name}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := run(ctx, args, func(k string) string { return env[k] }, &out)
	if err == nil || !strings.Contains(err.Error(), "refused the keys") || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("serve with wrong keys: %v", err)
	}
}

// get fetches an API path with an optional Range header and returns body and status.
func (p *product) get(tok, path, rng string) ([]byte, int) {
	p.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+p.http+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b, resp.StatusCode
}

func (p *product) poolID(tok string) string {
	p.t.Helper()
	var pools struct {
		Pools []struct {
			ID uint `json:"id"`
		} `json:"pools"`
	}
	if st := p.api(tok, "GET", "/pools", nil, &pools); st != 200 || len(pools.Pools) != 1 {
		p.t.Fatalf("pools: %d", st)
	}
	return strconv.Itoa(int(pools.Pools[0].ID))
}

// browser is a logged-in Control Panel session with its CSRF token.
type browser struct {
	p    *product
	http *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`)

func (p *product) login(user, pw string) *browser {
	p.t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{p: p, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	b.fetch("/login")
	b.post("/login", url.Values{"username": {user}, "password": {pw}})
	b.fetch("/account")
	if b.csrf == "" {
		p.t.Fatal("login did not give a session with a CSRF token")
	}
	return b
}

func (b *browser) fetch(path string) { b.page(path) }

func (b *browser) page(path string) string {
	resp, err := b.http.Get("http://" + b.p.http + path)
	if err != nil {
		b.p.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return string(body)
}

func (b *browser) post(path string, form url.Values) []byte {
	b.p.t.Helper()
	if form.Get("_csrf") == "" {
		form.Set("_csrf", b.csrf)
	}
	resp, err := b.http.PostForm("http://"+b.p.http+path, form)
	if err != nil {
		b.p.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return body
}

// TestCallsWhileS3IsDown: S3 goes away while calls are made. Their recordings stay in the
// node's spool (the API says failed, with the reason), nothing is lost; when S3 is back they
// are uploaded, byte-identical to what was spooled, and the spool copies go.
func TestCallsWhileS3IsDown(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	srv := s3test.Start(t)
	b := srv.Bucket(t)
	data := t.TempDir()
	p := startProductIn(t, data, b.Env(), "--storage", "s3://"+b.Name+"/node1")
	tok := p.token("demo-admin")
	p.bookDemoPool(tok)
	srv.Stop()
	for i := range 2 {
		if callerErr, calleeErr := sipptest.Run(t, p.sip, p.trunkPort, sipptest.Call{From: "4971121843144" + strconv.Itoa(i), Dialed: "49711218431431", HoldMS: 8000}); callerErr != nil || calleeErr != nil {
			t.Fatalf("sipp: caller %v, callee %v\n%s", callerErr, calleeErr, p.out)
		}
	}
	type recording struct {
		ID         uint   `json:"id"`
		Path       string `json:"path"`
		Storage    string `json:"storage"`
		StoreError string `json:"store_error"`
	}
	recordings := func() []recording {
		var list struct {
			Recordings []recording `json:"recordings"`
		}
		p.api(tok, "GET", "/recordings", nil, &list)
		out := list.Recordings[:0]
		for _, r := range list.Recordings {
			var d recording
			p.api(tok, "GET", "/recordings/"+strconv.Itoa(int(r.ID)), nil, &d)
			out = append(out, d)
		}
		return out
	}
	var spooled [][]byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		rs := recordings()
		failed := 0
		for _, r := range rs {
			if r.Storage == "failed" && r.StoreError != "" {
				failed++
			}
		}
		if len(rs) == 2 && failed >= 1 {
			for _, r := range rs {
				b, err := os.ReadFile(filepath.Join(data, filepath.FromSlash(r.Path)))
				if err != nil {
					t.Fatalf("recording %s not in the spool while S3 is down: %v", r.Path, err)
				}
				spooled = append(spooled, b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recordings while S3 is down: %+v\n%s", rs, p.out)
		}
	}
	if err := srv.StartAgain(); err != nil {
		t.Fatal(err)
	}
	s3c, err := b.Client()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(time.Second) {
		rs := recordings()
		stored := 0
		for _, r := range rs {
			if r.Storage == "stored" {
				stored++
			}
		}
		if stored == 2 {
			for i, r := range rs {
				o, err := s3c.GetObject(context.Background(), b.Name, "node1/"+r.Path, minio.GetObjectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(o)
				if !bytes.Equal(got, spooled[i]) {
					t.Errorf("%s differs from what was spooled", r.Path)
				}
				if _, err := os.Stat(filepath.Join(data, filepath.FromSlash(r.Path))); !os.IsNotExist(err) {
					t.Errorf("spool copy of %s kept after the upload", r.Path)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not uploaded 120 s after S3 came back: %+v\n%s", rs, p.out)
		}
	}
}
