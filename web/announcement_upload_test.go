package web

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
	"callrec/media/audio"
)

func TestAnnouncementUploadConvertChoose(t *testing.T) {
	e := annEnv(t, nil)
	tok := e.token(e.demo.Admin)
	p := e.bookedPool()

	src := wavPCM16(44100, 2, 1.5)
	st, f, ae := e.upload(tok, "Ansage Büro.wav", src, map[string]string{"folder": "announcements"})
	if st != http.StatusCreated {
		t.Fatalf("upload: %d %+v", st, ae)
	}
	if f.Name != "Ansage_Buero.wav" || f.Folder != "announcements/337826" || f.Ready || f.Size != int64(len(src)) ||
		f.Format != (formatJSON{Codec: "pcm", Bits: 16, Rate: 44100, Channels: 2}) || f.DurationMS != 1500 {
		t.Fatalf("uploaded file %+v", f)
	}
	onDisk, err := os.ReadFile(filepath.Join(e.dir, "announcements", "337826", f.Name))
	if err != nil || !bytes.Equal(onDisk, src) {
		t.Fatalf("stored file differs (%v)", err)
	}

	// A file that is not ready cannot be chosen.
	var apiErr apiErrorBody
	path := "/pools/" + strconv.Itoa(int(p.ID)) + "/call-recording/announcements/caller_notice"
	if st := e.api(tok, http.MethodPut, path, map[string]any{"source": "file", "file_id": f.ID}, &apiErr); st != http.StatusUnprocessableEntity || apiErr.Error.Code != "file_not_ready" {
		t.Fatalf("choose unready file: %d %+v", st, apiErr)
	}

	var conv fileJSON
	if st := e.api(tok, http.MethodPost, "/files/"+strconv.Itoa(int(f.ID))+"/convert", nil, &conv); st != http.StatusCreated {
		t.Fatalf("convert: %d", st)
	}
	if conv.Name != "Ansage_Buero_16k8bit.wav" || !conv.Ready || conv.Format != (formatJSON{Codec: "pcm", Bits: 8, Rate: 16000, Channels: 1}) ||
		conv.DurationMS < 1499 || conv.DurationMS > 1501 || conv.Folder != f.Folder {
		t.Fatalf("converted %+v", conv)
	}
	out, err := os.Open(filepath.Join(e.dir, "announcements", "337826", conv.Name))
	if err != nil {
		t.Fatal(err)
	}
	fm, err := audio.Probe(out)
	out.Close()
	if err != nil || !audio.IsTarget(fm) {
		t.Fatalf("converted file is %+v (%v)", fm, err)
	}
	var again apiErrorBody
	if st := e.api(tok, http.MethodPost, "/files/"+strconv.Itoa(int(conv.ID))+"/convert", nil, &again); st != http.StatusConflict || again.Error.Code != "already_ready" {
		t.Fatalf("convert a ready file: %d %+v", st, again)
	}

	var an announcementJSON
	if st := e.api(tok, http.MethodPut, path, map[string]any{"source": "file", "file_id": conv.ID}, &an); st != http.StatusOK {
		t.Fatalf("choose file: %d", st)
	}
	if an.Source != "file" || an.FileID == nil || *an.FileID != conv.ID || an.Language != "de" {
		t.Fatalf("slot %+v", an)
	}
	// The player plays exactly the chosen file.
	admin := e.admin()
	resp, b := admin.getRaw("/pools/" + strconv.Itoa(int(p.ID)) + "/announcements/caller_notice/audio")
	want, _ := os.ReadFile(filepath.Join(e.dir, "announcements", "337826", conv.Name))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || !bytes.Equal(b, want) {
		t.Fatalf("slot audio: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
	// So does the agent's player; and the engine's lookup names the same file.
	resp, b = e.agent().getRaw("/pools/" + strconv.Itoa(int(p.ID)) + "/announcements/caller_notice/audio")
	if resp.StatusCode != 200 || !bytes.Equal(b, want) {
		t.Fatalf("agent slot audio: %d", resp.StatusCode)
	}
	paths, err := e.store.AnnouncementAudio(context.Background(), p.ID, "de")
	if err != nil || paths["caller_notice"] != "announcements/337826/"+conv.Name || paths["callee_whisper"] != "" {
		t.Fatalf("engine paths %v %v", paths, err)
	}

	// A chosen file cannot be deleted; after going back to the default it can.
	var inUse apiErrorBody
	if st := e.api(tok, http.MethodDelete, "/files/"+strconv.Itoa(int(conv.ID)), nil, &inUse); st != http.StatusConflict || inUse.Error.Code != "file_in_use" {
		t.Fatalf("delete in use: %d %+v", st, inUse)
	}
	if st := e.api(tok, http.MethodPut, path, map[string]any{"source": "default"}, &an); st != http.StatusOK || an.Source != "default" {
		t.Fatalf("back to default: %d %+v", st, an)
	}
	resp, b = admin.getRaw("/pools/" + strconv.Itoa(int(p.ID)) + "/announcements/caller_notice/audio")
	if resp.StatusCode != 200 || !bytes.Equal(b, fakePrompt("caller_notice", "de")) {
		t.Fatalf("default audio: %d", resp.StatusCode)
	}
	if st := e.api(tok, http.MethodDelete, "/files/"+strconv.Itoa(int(conv.ID)), nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	if names := e.annDir(); len(names) != 1 || names[0] != f.Name {
		t.Fatalf("folder after delete: %v", names)
	}
	// Content of the remaining file, with a range (the player seeks).
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/files/"+strconv.Itoa(int(f.ID))+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Range", "bytes=0-3")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != http.StatusPartialContent || string(b) != "RIFF" {
		t.Fatalf("content range: %d %q", r2.StatusCode, b)
	}

	// Every change left an audit event with old and new values.
	var kinds []string
	rows, err := e.store.SQL().Query(`SELECT kind FROM audit_events WHERE kind LIKE 'file.%' OR kind LIKE 'announcement.%' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		kinds = append(kinds, k)
	}
	rows.Close()
	if got := strings.Join(kinds, ","); got != "file.uploaded,file.converted,announcement.changed,announcement.changed,file.deleted" {
		t.Fatalf("audit kinds %s", got)
	}
}

func TestAnnouncementUploadMP3(t *testing.T) {
	sox := testtool.Need(t, "sox", "sox")
	e := annEnv(t, nil)
	tok := e.token(e.demo.Admin)
	dir := t.TempDir()
	mp3 := filepath.Join(dir, "notice.mp3")
	if out, err := exec.Command(sox, "-n", "-r", "44100", "-c", "2", mp3, "synth", "2", "sine", "440").CombinedOutput(); err != nil {
		t.Skipf("sox cannot write MP3 here (install libsox-fmt-mp3): %v %s", err, out)
	}
	data, _ := os.ReadFile(mp3)
	st, f, ae := e.upload(tok, "notice.mp3", data, nil)
	if st != http.StatusCreated || f.Ready || f.Format.Codec != "mp3" || f.Format.Rate != 44100 || f.Format.Channels != 2 {
		t.Fatalf("mp3 upload: %d %+v %+v", st, f, ae)
	}
	var conv fileJSON
	if st := e.api(tok, http.MethodPost, "/files/"+strconv.Itoa(int(f.ID))+"/convert", nil, &conv); st != http.StatusCreated {
		t.Fatalf("convert: %d", st)
	}
	// The encoder delay is trimmed: the length is the tone's (plus at most the encoder's end
	// padding, under one 26 ms frame), not the tone's plus 2,300 samples (52 ms).
	if conv.Name != "notice.wav" || !conv.Ready || conv.DurationMS < 1990 || conv.DurationMS > 2030 {
		t.Fatalf("converted mp3 %+v", conv)
	}
	// sox reads what we wrote as WAV 8-bit unsigned 16 kHz mono.
	out, err := exec.Command(sox, "--i", filepath.Join(e.dir, "announcements", "337826", "notice.wav")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Sample Rate    : 16000") || !strings.Contains(string(out), "Channels       : 1") ||
		!strings.Contains(string(out), "8-bit Unsigned") {
		t.Fatalf("sox --i: %v\n%s", err, out)
	}
}

func TestAnnouncementHostileUploads(t *testing.T) {
	e := annEnv(t, func(c *Config) { c.MaxAnnouncement = 2e9 })
	tok := e.token(e.demo.Admin)
	pcm := make([]byte, 400)
	long := wavPCM16(8000, 1, 3)
	trunc := wavFile(1, 1, 16000, 16, pcm)
	binary.LittleEndian.PutUint32(trunc[40:], 1<<30) // data chunk claims 1 GiB
	cases := []struct {
		name string
		data []byte
		code string
	}{
		{"empty.wav", nil, "no_audio"},
		{"notes.txt", []byte("this is a text file, not audio"), "unsupported_format"},
		{"big.wav", trunc, "truncated_file"},
		{"nochannels.wav", wavFile(1, 0, 16000, 16, pcm), "bad_channels"},
		{"slow.wav", wavFile(1, 1, 10, 16, pcm), "bad_rate"},
		{"fast.wav", wavFile(1, 1, 10_000_000, 16, pcm), "bad_rate"},
		{"adpcm.wav", wavFile(2, 1, 16000, 4, pcm), "unsupported_format"},
		{"nodata.wav", wavFile(1, 1, 16000, 16, nil), "no_audio"},
		{"tag.mp3", []byte("ID3\x03\x00\x00\x7f\x7f\x7f\x7f\xff\xfb\x90\x00"), "truncated_file"},
		{"long.wav", long, "too_long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, _, ae := e.upload(tok, c.name, c.data, nil)
			if st != http.StatusUnprocessableEntity || ae.Error.Code != c.code {
				t.Errorf("%d %+v, want 422 %s", st, ae, c.code)
			}
			if names := e.annDir(); len(names) != 0 {
				t.Errorf("left behind: %v", names)
			}
		})
	}
	var n int64
	e.store.SQL().QueryRow(`SELECT count(*) FROM files`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d file rows after failed uploads", n)
	}
}

func TestAnnouncementUploadNamesStayInside(t *testing.T) {
	e := annEnv(t, nil)
	tok := e.token(e.demo.Admin)
	wav := wavPCM16(16000, 1, 0.2)
	for _, name := range []string{"../../x.wav", "/etc/passwd", `..\..\win.wav`, `"; filename*=UTF-8''a%00b%2F..%2Fc.wav; x="`, ".hidden.wav", "x.wav", "x.wav", "Ça va?.mp3"} {
		st, f, ae := e.upload(tok, name, wav, nil)
		if st != http.StatusCreated {
			t.Fatalf("%q: %d %+v", name, st, ae)
		}
		if strings.ContainsAny(f.Name, "/\\\x00") || strings.HasPrefix(f.Name, ".") || f.Folder != "announcements/337826" {
			t.Errorf("%q stored as %q in %q", name, f.Name, f.Folder)
		}
	}
	// A raw NUL in the part's header is a malformed request: refused, nothing written.
	if st, _, ae := e.upload(tok, "a\x00b.wav", wav, nil); st != http.StatusBadRequest {
		t.Errorf("NUL in the header: %d %+v", st, ae)
	}
	names := e.annDir()
	if len(names) != 8 {
		t.Errorf("folder holds %v", names)
	}
	for _, n := range []string{"x.wav", "x_2.wav", "passwd.wav", "hidden.wav"} {
		found := false
		for _, m := range names {
			found = found || m == n
		}
		if !found {
			t.Errorf("%s missing from %v", n, names)
		}
	}
	// Nothing was written anywhere else in the data folder.
	filepath.Walk(e.dir, func(p string, info os.FileInfo, err error) error {
		rel, _ := filepath.Rel(e.dir, p)
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".wav") && !strings.HasPrefix(rel, "announcements/337826/") {
			t.Errorf("file outside the customer's folder: %s", rel)
		}
		return nil
	})
	// Folders other than announcements are refused.
	if st, _, ae := e.upload(tok, "y.wav", wav, map[string]string{"folder": "call_recording/337826"}); st != http.StatusUnprocessableEntity || ae.Error.Code != "bad_folder" {
		t.Fatalf("foreign folder: %d %+v", st, ae)
	}
	if len(e.annDir()) != 8 {
		t.Fatalf("bad folder left a file: %v", e.annDir())
	}
}

func TestAnnouncementUploadSizeLimit(t *testing.T) {
	e := annEnv(t, func(c *Config) { c.MaxUpload = 20_000 })
	tok := e.token(e.demo.Admin)
	big := wavPCM16(16000, 1, 1) // 32 kB
	st, _, ae := e.upload(tok, "big.wav", big, nil)
	if st != http.StatusRequestEntityTooLarge || ae.Error.Code != "file_too_large" {
		t.Fatalf("big upload: %d %+v", st, ae)
	}
	// Without a Content-Length the limit strikes while streaming; nothing is left.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, _ := mw.CreateFormFile("file", "chunked.wav")
		part.Write(big)
		mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/files", pr)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body apiErrorBody
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body.Error.Code != "file_too_large" {
		t.Fatalf("chunked upload: %d %+v", resp.StatusCode, body)
	}
	if names := e.annDir(); len(names) != 0 {
		t.Fatalf("left behind: %v", names)
	}
	// A small file still fits.
	if st, _, ae := e.upload(tok, "small.wav", wavPCM16(8000, 1, 0.5), nil); st != http.StatusCreated {
		t.Fatalf("small upload: %d %+v", st, ae)
	}
}

// TestAnnouncementUploadStreams uploads a 40 MB WAV from disk through a pipe and checks the
// process allocated far less than the file: the body goes to disk, never whole into memory.
func TestAnnouncementUploadStreams(t *testing.T) {
	e := annEnv(t, func(c *Config) { c.MaxAnnouncement = 30 * time.Minute })
	tok := e.token(e.demo.Admin)
	src := filepath.Join(t.TempDir(), "long.wav")
	const frames = 10_000_000 // 40 MB of 16-bit stereo at 48 kHz: 3.5 minutes
	fh, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	fh.Write(wavFile(1, 2, 48000, 16, nil)[:44])
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	for n := 0; n < frames*4; n += len(chunk) {
		fh.Write(chunk[:min(len(chunk), frames*4-n)])
	}
	fh.WriteAt(binary.LittleEndian.AppendUint32(nil, frames*4), 40)
	fh.WriteAt(binary.LittleEndian.AppendUint32(nil, 36+frames*4), 4)
	fh.Close()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, _ := mw.CreateFormFile("file", "long.wav")
		in, _ := os.Open(src)
		io.Copy(part, in)
		in.Close()
		mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/files", pr)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var f fileJSON
	json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if resp.StatusCode != http.StatusCreated || f.Size != 44+frames*4 || f.DurationMS != frames*1000/48000 {
		t.Fatalf("upload: %d %+v", resp.StatusCode, f)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("uploading %d MB allocated %.1f MB (client and server)", f.Size>>20, float64(alloc)/(1<<20))
	if alloc > 8<<20 {
		t.Fatalf("uploading %d MB allocated %d MB", f.Size>>20, alloc>>20)
	}
}

// TestAnnouncementUploadSweepsStaleTemps: temporary files a crash left behind go at the next
// upload; fresh ones (an upload in progress) stay.
func TestAnnouncementUploadSweepsStaleTemps(t *testing.T) {
	e := annEnv(t, nil)
	tok := e.token(e.demo.Admin)
	dir := filepath.Join(e.dir, "announcements", "337826")
	os.MkdirAll(dir, 0o750)
	old, fresh := filepath.Join(dir, ".upload.tmp7"), filepath.Join(dir, ".x.wav.tmp0")
	os.WriteFile(old, []byte("partial"), 0o640)
	os.WriteFile(fresh, []byte("partial"), 0o640)
	long := time.Now().Add(-48 * time.Hour)
	os.Chtimes(old, long, long)
	if st, _, ae := e.upload(tok, "a.wav", wavPCM16(8000, 1, 0.2), nil); st != http.StatusCreated {
		t.Fatalf("upload: %d %+v", st, ae)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale temp kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp removed: %v", err)
	}
}

// TestAnnouncementPlatformAdminUploads: the platform admin chooses the customer's folder first.
func TestAnnouncementPlatformAdminUploads(t *testing.T) {
	e := annEnv(t, nil)
	pa := e.platform()
	var cid uint
	if err := e.store.SQL().QueryRow(`SELECT id FROM customers WHERE subscriber_id = '337826'`).Scan(&cid); err != nil {
		t.Fatal(err)
	}
	st, body := pa.get("/files/announcements")
	if st != 200 || !strings.Contains(body, `data-testid="customer-form"`) || strings.Contains(body, `data-testid="upload-form"`) {
		t.Fatalf("platform admin page: %d", st)
	}
	q := "?customer=" + strconv.Itoa(int(cid))
	if st, body = pa.get("/files/announcements" + q); st != 200 || !strings.Contains(body, `action="/files/announcements`+q+`&amp;_csrf=`+pa.csrf+`"`) {
		t.Fatalf("platform admin page for a customer: %d", st)
	}
	send := func(query string) (int, []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		part, _ := mw.CreateFormFile("file", "pa.wav")
		part.Write(wavPCM16(8000, 1, 0.2))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/files/announcements"+query, &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-CSRF-Token", pa.csrf)
		resp, err := pa.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, b := send(""); st != http.StatusUnprocessableEntity || !strings.Contains(string(b), "customer_required") {
		t.Fatalf("without customer: %d %s", st, b)
	}
	st, b := send(q)
	var f fileJSON
	json.Unmarshal(b, &f)
	if st != http.StatusCreated || f.Folder != "announcements/337826" {
		t.Fatalf("with customer: %d %s", st, b)
	}
	// The API takes the same parameter.
	var ae apiErrorBody
	tok := e.token("admin")
	if st, _, ae = e.upload(tok, "api.wav", wavPCM16(8000, 1, 0.2), nil); st != http.StatusUnprocessableEntity || ae.Error.Code != "customer_required" {
		t.Fatalf("API without customer: %d %+v", st, ae)
	}
}

// TestAnnouncementUploadWithoutScript: the plain form post works too. Its CSRF token travels in
// the form's action (the query), as the server reads no multipart body before the check; a token
// only in the body is refused.
func TestAnnouncementUploadWithoutScript(t *testing.T) {
	e := annEnv(t, nil)
	admin := e.admin()
	_, page := admin.get("/files/announcements")
	m := regexp.MustCompile(`<form class="card" method="post" action="([^"]+)" enctype="multipart/form-data"`).FindStringSubmatch(page)
	if m == nil || m[1] != "/files/announcements?_csrf="+admin.csrf {
		t.Fatalf("upload form's action: %v", m)
	}
	action := html.UnescapeString(m[1])
	var bodyOnly bytes.Buffer
	mw := multipart.NewWriter(&bodyOnly)
	mw.WriteField("_csrf", admin.csrf)
	part, _ := mw.CreateFormFile("file", "body-token.wav")
	part.Write(wavPCM16(8000, 1, 0.2))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/files/announcements", &bodyOnly)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := admin.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("token only in the multipart body: %d, want 403", resp.StatusCode)
	}
	post := func(data []byte) (int, string, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		part, _ := mw.CreateFormFile("file", "plain.wav")
		part.Write(data)
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+action, &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := admin.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	if st, loc, _ := post(wavPCM16(8000, 1, 0.2)); st != http.StatusSeeOther || loc != "/files/announcements" {
		t.Fatalf("plain upload: %d %s", st, loc)
	}
	if st, body := admin.get("/files/announcements"); st != 200 || !strings.Contains(body, "plain.wav") || !strings.Contains(body, `data-testid="flash"`) {
		t.Fatalf("after plain upload: %d", st)
	}
	st, _, body := post([]byte("text"))
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="files-error"`) || !strings.Contains(body, "Dieser Dateityp wird nicht unterstützt") {
		t.Fatalf("plain upload of text: %d", st)
	}
	// The plain upload was converted with it (a file and its playable copy); the text added none.
	if names := e.annDir(); len(names) != 2 || names[1] != "plain_16k8bit.wav" {
		t.Fatalf("folder %v", names)
	}
}
