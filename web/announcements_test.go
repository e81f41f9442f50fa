package web

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"callrec/internal/testtool"
	"callrec/media/audio"
	"callrec/models"
)

// wavPCM16 is a WAV file of a 440 Hz tone, 16-bit PCM.
func wavPCM16(rate, channels int, seconds float64) []byte {
	frames := int(float64(rate) * seconds)
	data := make([]byte, frames*channels*2)
	for i := 0; i < frames; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
		for ch := 0; ch < channels; ch++ {
			binary.LittleEndian.PutUint16(data[(i*channels+ch)*2:], uint16(v))
		}
	}
	return wavFile(1, channels, rate, 16, data)
}

// wavFile assembles a canonical WAV: RIFF, fmt, data.
func wavFile(tag, channels, rate, bits int, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	align := channels * ((bits + 7) / 8)
	for _, v := range []any{uint32(16), uint16(tag), uint16(channels), uint32(rate), uint32(rate * align), uint16(align), uint16(bits)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

// upload posts a multipart body to the API; fields are sent before the file part.
func (e *env) upload(tok, name string, data []byte, fields map[string]string) (int, fileJSON, apiErrorBody) {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
	h.Set("Content-Type", "application/octet-stream")
	pw, _ := mw.CreatePart(h)
	pw.Write(data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/files", &body)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var f fileJSON
	var ae apiErrorBody
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(b, &f); err != nil {
			e.t.Fatalf("upload answer %s: %v", b, err)
		}
	} else {
		json.Unmarshal(b, &ae)
	}
	return resp.StatusCode, f, ae
}

// annDir lists the demo customer's announcements folder, hidden files included.
func (e *env) annDir() []string {
	e.t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.dir, "announcements", "337826"))
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	var names []string
	for _, en := range ents {
		names = append(names, en.Name())
	}
	return names
}

// bookedPool books Call Recording for the demo pool, which gives it its announcement slots.
func (e *env) bookedPool() models.Pool {
	e.t.Helper()
	p := e.demoPool()
	if _, _, err := e.store.BookCallRecording(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, p.ID,
		models.BookingInput{Accepted: true, Notice: models.LegalNotice{Text: "notice", Language: "de"}, IP: "127.0.0.1"}); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func fakePrompt(slot, lang string) []byte {
	return wavFile(1, 1, 16000, 8, []byte(strings.Repeat("\x80", 1000)+slot+lang))
}

func annEnv(t *testing.T, tweak func(*Config)) *env {
	return newEnvWith(t, func(c *Config) {
		c.DefaultPrompt = fakePrompt
		if tweak != nil {
			tweak(c)
		}
	})
}

func (c *client) getRaw(path string) (*http.Response, []byte) {
	c.e.t.Helper()
	resp, err := c.http.Get(c.e.srv.URL + path)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestAnnouncementIsolationAndRoles(t *testing.T) {
	e := annEnv(t, nil)
	tok := e.token(e.demo.Admin)
	p := e.bookedPool()
	if err := e.store.EnsureAnnouncements(context.Background(), e.otherPool.ID); err != nil {
		t.Fatal(err)
	}
	_, f, _ := e.upload(tok, "mine.wav", wavFile(1, 1, 16000, 8, bytes.Repeat([]byte{128}, 1600)), nil)
	if !f.Ready {
		t.Fatalf("target-format upload not ready: %+v", f)
	}
	other := e.token(e.otherAdmin)
	id := strconv.Itoa(int(f.ID))
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/files/" + id + "/content"},
		{http.MethodPost, "/files/" + id + "/convert"},
		{http.MethodDelete, "/files/" + id},
		{http.MethodPut, "/pools/" + strconv.Itoa(int(p.ID)) + "/call-recording/announcements/caller_notice"},
	} {
		var ae apiErrorBody
		if st := e.api(other, c.method, c.path, map[string]any{"source": "default"}, &ae); st != http.StatusNotFound || ae.Error.Code != "not_found" {
			t.Errorf("other customer %s %s: %d %+v", c.method, c.path, st, ae)
		}
	}
	// Another customer's file id cannot be chosen for one's own slot.
	var ae apiErrorBody
	op := "/pools/" + strconv.Itoa(int(e.otherPool.ID)) + "/call-recording/announcements/callee_whisper"
	if st := e.api(other, http.MethodPut, op, map[string]any{"source": "file", "file_id": f.ID}, &ae); st != http.StatusUnprocessableEntity || ae.Error.Code != "file_unknown" {
		t.Errorf("foreign file id: %d %+v", st, ae)
	}
	// Unknown slot and unknown source.
	if st := e.api(tok, http.MethodPut, "/pools/"+strconv.Itoa(int(p.ID))+"/call-recording/announcements/nope", map[string]any{"source": "default"}, nil); st != http.StatusNotFound {
		t.Errorf("unknown slot: %d", st)
	}
	if st := e.api(tok, http.MethodPut, "/pools/"+strconv.Itoa(int(p.ID))+"/call-recording/announcements/caller_notice", map[string]any{"source": "music"}, &ae); st != http.StatusUnprocessableEntity || ae.Error.Code != "source_invalid" {
		t.Errorf("unknown source: %d %+v", st, ae)
	}
	// Agents listen but change nothing.
	agent := e.token(e.demo.Agent)
	if st, _, ae := e.upload(agent, "a.wav", wavPCM16(8000, 1, 0.2), nil); st != http.StatusForbidden {
		t.Errorf("agent upload: %d %+v", st, ae)
	}
	if st := e.api(agent, http.MethodPut, "/pools/"+strconv.Itoa(int(p.ID))+"/call-recording/announcements/caller_notice", map[string]any{"source": "default"}, nil); st != http.StatusForbidden {
		t.Errorf("agent put: %d", st)
	}
	if st := e.api(agent, http.MethodDelete, "/files/"+id, nil, nil); st != http.StatusForbidden {
		t.Errorf("agent delete: %d", st)
	}
	ag := e.agent()
	if st, body := ag.get("/files/announcements"); st != 200 || strings.Contains(body, `data-testid="upload-form"`) || strings.Contains(body, `data-testid="file-delete"`) || !strings.Contains(body, "mine.wav") {
		t.Errorf("agent files page: %d", st)
	}
	if st, _, _ := ag.post("/files/announcements/"+id+"/delete", nil); st != http.StatusForbidden {
		t.Errorf("agent delete form: %d", st)
	}
	if st, body := ag.get("/pools/" + strconv.Itoa(int(p.ID))); st != 200 || !strings.Contains(body, `data-testid="ann-audio-caller_notice"`) || strings.Contains(body, `data-testid="ann-form-caller_notice"`) {
		t.Errorf("agent pool page: %d", st)
	}
	if st, body := e.admin().get("/pools/" + strconv.Itoa(int(p.ID))); st != 200 || !strings.Contains(body, `data-testid="ann-form-caller_notice"`) {
		t.Errorf("admin pool page: %d", st)
	}
	// Another customer's admin sees none of it.
	oc := e.client().login(e.otherAdmin, e.otherPW)
	if st, body := oc.get("/files/announcements"); st != 200 || strings.Contains(body, "mine.wav") {
		t.Errorf("other files page: %d", st)
	}
	if resp, _ := oc.getRaw("/files/announcements/" + id + "/content"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("other content: %d", resp.StatusCode)
	}
	if resp, _ := oc.getRaw("/pools/" + strconv.Itoa(int(p.ID)) + "/announcements/caller_notice/audio"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("other slot audio: %d", resp.StatusCode)
	}
}

func TestAnnouncementPageUploadAndForm(t *testing.T) {
	e := annEnv(t, nil)
	admin := e.admin()
	if st, body := admin.get("/pools/" + strconv.Itoa(int(e.demoPool().ID))); st != 200 || strings.Contains(body, `data-testid="announcements"`) {
		t.Fatalf("announcements shown before booking: %d", st)
	}
	p := e.bookedPool()
	if st, body := admin.get("/files/announcements"); st != 200 || !strings.Contains(body, `data-testid="upload-form"`) {
		t.Fatalf("files page: %d", st)
	}
	// The page's script: XMLHttpRequest with the CSRF header, JSON back.
	send := func(name string, data []byte, csrf string) (int, []byte) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		part, _ := mw.CreateFormFile("file", name)
		part.Write(data)
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/files/announcements", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := admin.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, _ := send("x.wav", wavPCM16(8000, 1, 0.3), "wrong"); st != http.StatusForbidden {
		t.Fatalf("upload without CSRF: %d", st)
	}
	st, b := send("x.wav", wavPCM16(8000, 1, 0.3), admin.csrf)
	if st != http.StatusCreated {
		t.Fatalf("page upload: %d %s", st, b)
	}
	var f fileJSON
	json.Unmarshal(b, &f)
	st, b = send("y.wav", []byte("not audio"), admin.csrf)
	if st != http.StatusUnprocessableEntity || !strings.Contains(string(b), "Dieser Dateityp wird nicht unterstützt") {
		t.Fatalf("page upload of text: %d %s", st, b)
	}
	// The upload converted the file at once; the button converts it again. Then choose the
	// result in the slot form.
	fs, _ := e.store.AnnouncementFiles(context.Background(), models.Actor{Role: models.RolePlatformAdmin})
	if len(fs) != 2 || fs[0].Ready || !fs[1].Ready {
		t.Fatalf("after the upload: files %+v", fs)
	}
	if st, _, loc := admin.post("/files/announcements/"+strconv.Itoa(int(f.ID))+"/convert", nil); st != http.StatusSeeOther || loc != "/files/announcements" {
		t.Fatalf("convert button: %d %s", st, loc)
	}
	fs, _ = e.store.AnnouncementFiles(context.Background(), models.Actor{Role: models.RolePlatformAdmin})
	if len(fs) != 3 || !fs[2].Ready {
		t.Fatalf("files %+v", fs)
	}
	_, body := admin.get("/files/announcements")
	if !strings.Contains(body, `data-testid="file-ready"`) || !strings.Contains(body, `data-testid="file-convert"`) {
		t.Fatalf("list lacks ready badge or convert button")
	}
	slot := "/pools/" + strconv.Itoa(int(p.ID)) + "/announcements/objection_confirmation"
	st, _, loc := admin.post(slot, url.Values{"source": {"file"}, "file_id": {strconv.Itoa(int(fs[1].ID))}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/pools/") {
		t.Fatalf("slot form: %d %s", st, loc)
	}
	// An empty text is an error beside the field (htmx swaps the slot).
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+slot, strings.NewReader(url.Values{"source": {"text"}, "text": {"  "}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-CSRF-Token", admin.csrf)
	resp, err := admin.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), `data-testid="ann-error-objection_confirmation"`) || strings.Contains(string(b), "<html") {
		t.Fatalf("empty text: %d %s", resp.StatusCode, b)
	}
	_, an, _ := e.store.AnnouncementSlot(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, p.ID, "objection_confirmation")
	if an.Source != "file" {
		t.Fatalf("failed save changed the slot: %+v", an)
	}
}

func TestAnnouncementTextToSpeech(t *testing.T) {
	testtool.Need(t, "espeak-ng", "espeak-ng")
	e := annEnv(t, func(c *Config) {
		c.Speakable = func(text, lang string) string { return strings.ReplaceAll(text, "#1", "Raute eins") }
	})
	tok := e.token(e.demo.Admin)
	p := e.bookedPool()
	path := "/pools/" + strconv.Itoa(int(p.ID)) + "/call-recording/announcements/callee_whisper"
	var an announcementJSON
	if st := e.api(tok, http.MethodPut, path, map[string]any{"source": "text", "text": "Dieses Gespräch wird aufgezeichnet. Abbrechen mit #1."}, &an); st != http.StatusOK {
		t.Fatalf("text: %d", st)
	}
	if an.Source != "text" || an.TextDE != "Dieses Gespräch wird aufgezeichnet. Abbrechen mit #1." {
		t.Fatalf("slot %+v", an)
	}
	resp, b := e.admin().getRaw("/pools/" + strconv.Itoa(int(p.ID)) + "/announcements/callee_whisper/audio")
	fm, err := audio.Probe(bytes.NewReader(b))
	if resp.StatusCode != 200 || err != nil || !audio.IsTarget(fm) || fm.Duration() < 1e9 {
		t.Fatalf("spoken text: %d %+v %v", resp.StatusCode, fm, err)
	}
	first, _ := e.store.AnnouncementAudio(context.Background(), p.ID, "de")
	// A second edit replaces the rendering and removes the first.
	if st := e.api(tok, http.MethodPut, path, map[string]any{"source": "text", "text": "Kurz."}, &an); st != http.StatusOK {
		t.Fatalf("second text: %d", st)
	}
	second, _ := e.store.AnnouncementAudio(context.Background(), p.ID, "de")
	if first["callee_whisper"] == second["callee_whisper"] {
		t.Fatal("same file for a new text")
	}
	if _, err := os.Stat(filepath.Join(e.dir, first["callee_whisper"])); !os.IsNotExist(err) {
		t.Fatalf("old rendering still there: %v", err)
	}
	if _, body := e.admin().get("/pools/" + strconv.Itoa(int(p.ID))); strings.Contains(body, `data-testid="ann-no-speech-callee_whisper"`) {
		t.Fatal("speech engine reported missing")
	}
	// Without the speech engine the page says so up front, the answer says so, and the slot
	// keeps playing the last text.
	t.Setenv("PATH", t.TempDir())
	if _, body := e.admin().get("/pools/" + strconv.Itoa(int(p.ID))); !strings.Contains(body, `data-testid="ann-no-speech-callee_whisper"`) {
		t.Fatal("missing speech engine not shown")
	}
	var ae apiErrorBody
	if st := e.api(tok, http.MethodPut, path, map[string]any{"source": "text", "text": "Neu."}, &ae); st != http.StatusServiceUnavailable || ae.Error.Code != "no_speech_engine" {
		t.Fatalf("no espeak: %d %+v", st, ae)
	}
	third, _ := e.store.AnnouncementAudio(context.Background(), p.ID, "de")
	if third["callee_whisper"] != second["callee_whisper"] {
		t.Fatalf("slot changed without audio: %v", third)
	}
	tts, _ := os.ReadDir(filepath.Join(e.dir, "announcements", "337826", "tts"))
	if len(tts) != 1 {
		t.Fatalf("tts folder %v", tts)
	}
}

// TestAnnouncementPreviewFallsBack: a chosen file that vanished from disk plays the standard
// prompt, in the preview as in the engine, so the preview never claims silence callers won't hear.
func TestAnnouncementPreviewFallsBack(t *testing.T) {
	e := annEnv(t, nil)
	tok := e.token(e.demo.Admin)
	p := e.bookedPool()
	_, f, _ := e.upload(tok, "gone.wav", wavFile(1, 1, 16000, 8, bytes.Repeat([]byte{128}, 1600)), nil)
	path := "/pools/" + strconv.Itoa(int(p.ID)) + "/call-recording/announcements/callee_whisper"
	if st := e.api(tok, http.MethodPut, path, map[string]any{"source": "file", "file_id": f.ID}, nil); st != http.StatusOK {
		t.Fatalf("choose: %d", st)
	}
	if err := os.Remove(filepath.Join(e.dir, "announcements", "337826", "gone.wav")); err != nil {
		t.Fatal(err)
	}
	resp, b := e.admin().getRaw("/pools/" + strconv.Itoa(int(p.ID)) + "/announcements/callee_whisper/audio")
	if resp.StatusCode != 200 || !bytes.Equal(b, fakePrompt("callee_whisper", "de")) {
		t.Fatalf("fallback: %d, %d bytes", resp.StatusCode, len(b))
	}
}

// TestFileContentOfRecording: /api/v1/files/{id}/content also serves recordings, through the
// recordings' handler, so the permission check and the "listened" audit event apply.
func TestFileContentOfRecording(t *testing.T) {
	e := annEnv(t, nil)
	ctx := context.Background()
	var cust models.Customer
	if err := e.store.SQL().QueryRow(`SELECT id FROM customers WHERE subscriber_id = '337826'`).Scan(&cust.ID); err != nil {
		t.Fatal(err)
	}
	rel := "call_recording/337826/4971121843140/rec_20180911_150222_337826_4971121843140_49711218431440__49711218431431_4915258878874.wav"
	wav := wavPCM16(8000, 1, 0.5)
	if err := os.MkdirAll(filepath.Join(e.dir, filepath.Dir(rel)), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, rel), wav, 0o640); err != nil {
		t.Fatal(err)
	}
	f := models.File{CustomerID: cust.ID, Folder: filepath.Dir(rel), Name: filepath.Base(rel), Path: rel, Kind: models.KindRecording,
		Size: int64(len(wav)), Codec: "pcm", Bits: 16, Rate: 8000, Channels: 1, DurationMS: 500}
	if err := e.store.CreateFileRow(ctx, &f); err != nil {
		t.Fatal(err)
	}
	get := func(tok string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/files/"+strconv.Itoa(int(f.ID))+"/content", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, b := get(e.token(e.demo.Admin)); st != 200 || !bytes.Equal(b, wav) {
		t.Fatalf("admin: %d", st)
	}
	var n int64
	e.store.SQL().QueryRow(`SELECT count(*) FROM audit_events WHERE kind = $1 AND object = $2`, models.AuditRecordingListened, rel).Scan(&n)
	if n != 1 {
		t.Fatalf("%d listened events", n)
	}
	if st, _ := get(e.token(e.demo.Agent)); st != http.StatusNotFound {
		t.Fatalf("agent without permission: %d", st)
	}
	if st, _ := get(e.token(e.otherAdmin)); st != http.StatusNotFound {
		t.Fatalf("other customer: %d", st)
	}
	// The announcements page's content route serves announcements only.
	if resp, _ := e.admin().getRaw("/files/announcements/" + strconv.Itoa(int(f.ID)) + "/content"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("recording through the announcements route: %d", resp.StatusCode)
	}
}

// TestAnnouncementDefaultFromInstalledPrompts: without the DefaultPrompt hook the preview plays
// the standard prompt serve installs for the engine under prompts/.
func TestAnnouncementDefaultFromInstalledPrompts(t *testing.T) {
	e := newEnv(t)
	p := e.bookedPool()
	want := fakePrompt("objection_confirmation", "de")
	os.MkdirAll(filepath.Join(e.dir, "prompts"), 0o750)
	if err := os.WriteFile(filepath.Join(e.dir, "prompts", "objection_confirmation.de.wav"), want, 0o640); err != nil {
		t.Fatal(err)
	}
	resp, b := e.agent().getRaw("/pools/" + strconv.Itoa(int(p.ID)) + "/announcements/objection_confirmation/audio")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || !bytes.Equal(b, want) {
		t.Fatalf("installed prompt: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := e.agent().getRaw("/pools/" + strconv.Itoa(int(p.ID)) + "/announcements/callee_whisper/audio"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing prompt: %d", resp.StatusCode)
	}
}
