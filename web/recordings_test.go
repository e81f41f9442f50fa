package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/calls"
	"callrec/models"
)

// seedName is the product document's example file name, with its empty field.
const seedName = "rec_20180911_150222_337826_4971121843140_49711218431440__49711218431431_4915258878874.wav"

// writeWAV writes a 16-bit 8 kHz mono WAV of secs seconds (a 440 Hz tone) under the data folder.
func writeWAV(t testing.TB, dataDir, rel string, secs float64) int64 {
	t.Helper()
	n := int(secs * 8000)
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(2*n))
	for i := range n {
		binary.Write(&b, binary.LittleEndian, int16(12000*math.Sin(2*math.Pi*440*float64(i)/8000)))
	}
	p := filepath.Join(dataDir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	return int64(b.Len())
}

// addRecording writes a WAV and stores its call as the engine would; it returns the file's id.
func (e *env) addRecording(pool models.Pool, engineID, name string, arrival time.Time, a string) uint {
	e.t.Helper()
	folder := "call_recording/" + map[bool]string{true: "337826", false: "999001"}[pool.ID == e.demoPool().ID] + "/" + pool.StartNumber
	rel := folder + "/" + name
	size := writeWAV(e.t, e.dir, rel, 4)
	b := arrival.Add(time.Second)
	_, err := e.store.SaveCall(context.Background(), models.CallRecord{EngineID: engineID, CustomerID: pool.CustomerID, PoolID: pool.ID,
		A: a, B: "49711218431431", C: "4915258878874", Arrival: arrival, Answered: b, Bridged: b, Ended: b.Add(4 * time.Second),
		State: "ended", RecState: "stopped", Outcome: calls.OutcomeCompleted, Recorded: 2 * time.Second,
		Events: []models.CallEventRecord{{At: arrival, Kind: "notice_played", By: "system"}, {At: b, Kind: "recording_started", By: "system"},
			{At: b.Add(2 * time.Second), Kind: "hash1_pressed", By: "callee"}, {At: b.Add(2 * time.Second), Kind: "recording_stopped", By: "callee"}},
		Segments:  []calls.Segment{{Start: 0, End: 2 * time.Second}},
		Recording: &models.RecordingRecord{Path: rel, Channels: 1, Size: size, Duration: 4 * time.Second, Recorded: 2 * time.Second, Final: true}})
	if err != nil {
		e.t.Fatal(err)
	}
	page, err := e.store.Browse(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, models.BrowseQuery{Folder: folder, Number: a, Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range page.Files {
		if f.Name == name {
			return f.ID
		}
	}
	e.t.Fatalf("no row for %s", rel)
	return 0
}

// raw fetches a path with extra headers and returns status, headers and body.
func (c *client) raw(method, path string, hdr map[string]string) (int, http.Header, []byte) {
	c.e.t.Helper()
	req, _ := http.NewRequest(method, c.e.srv.URL+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (e *env) auditCount(kind string) int64 {
	var n int64
	err := e.store.EachAuditEvent(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, models.AuditFilter{Kind: kind}, func(models.AuditEvent) error { n++; return nil })
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestRecordingAudioRangeAndAudit(t *testing.T) {
	e := newEnv(t)
	id := e.addRecording(e.demoPool(), "c1", seedName, time.Now().Add(-time.Hour), "49711218431440")
	admin := e.admin()
	rec := "/recordings/" + strconv.Itoa(int(id))
	full, err := os.ReadFile(filepath.Join(e.dir, "call_recording/337826/4971121843140", seedName))
	if err != nil {
		t.Fatal(err)
	}
	st, h, b := admin.raw("GET", rec+"/audio", map[string]string{"Range": "bytes=0-"})
	if st != http.StatusPartialContent || !bytes.Equal(b, full) || h.Get("Accept-Ranges") != "bytes" || h.Get("Content-Type") != "audio/wav" {
		t.Fatalf("range 0-: %d %d bytes %v", st, len(b), h)
	}
	st, h, b = admin.raw("GET", rec+"/audio", map[string]string{"Range": "bytes=1000-1999"})
	if st != http.StatusPartialContent || !bytes.Equal(b, full[1000:2000]) || h.Get("Content-Range") != "bytes 1000-1999/"+strconv.Itoa(len(full)) {
		t.Fatalf("seek: %d %v", st, h)
	}
	if st, _, _ := admin.raw("GET", rec+"/audio", map[string]string{"Range": "bytes=999999-"}); st != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("beyond the end: %d", st)
	}
	if n := e.auditCount(models.AuditRecordingListened); n != 1 {
		t.Fatalf("%d listen events, want 1 (seeks are not listens)", n)
	}
	// Another authorized person starting at byte 1 is a listen too.
	if st, _, _ := e.platform().raw("GET", rec+"/audio", map[string]string{"Range": "bytes=1-"}); st != http.StatusPartialContent {
		t.Fatalf("platform admin range: %d", st)
	}
	if n := e.auditCount(models.AuditRecordingListened); n != 2 {
		t.Fatalf("%d listen events after a listen from byte 1, want 2", n)
	}
	st, h, b = admin.raw("GET", rec+"/download", nil)
	if st != 200 || !bytes.Equal(b, full) || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d %v", st, h)
	}
	if n := e.auditCount(models.AuditRecordingDownloaded); n != 1 {
		t.Fatalf("%d download events", n)
	}
	// The audit log as CSV has both, with who and from where.
	st, h, b = admin.raw("GET", "/audit.csv", nil)
	if st != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("audit.csv: %d", st)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range rows[1:] {
		if (r[5] == models.AuditRecordingListened || r[5] == models.AuditRecordingDownloaded) && r[3] == e.demo.Admin && r[4] == "127.0.0.1" && strings.HasSuffix(r[6], seedName) {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("csv rows %v", rows)
	}
	if st, _ := e.agent().get("/audit.csv"); st != http.StatusForbidden {
		t.Fatalf("agent audit.csv: %d", st)
	}
	// The waveform was computed once and stored.
	admin.get(rec)
	var r models.Recording
	d, err := e.store.RecordingFile(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, id)
	if err != nil || d.Recording == nil || len(d.Recording.Peaks) != PeakBuckets {
		t.Fatalf("peaks not stored: %v %+v", err, r)
	}
}

func TestRecordingSymlinksRefused(t *testing.T) {
	e := newEnv(t)
	pool := e.demoPool()
	otherRel := "call_recording/999001/4930555000/rec_secret.wav"
	writeWAV(t, e.dir, otherRel, 1)
	admin := e.admin()
	folder := filepath.Join(e.dir, "call_recording/337826/4971121843140")
	os.MkdirAll(folder, 0o750)
	for i, target := range []string{"../../999001/4930555000/rec_secret.wav", "/etc/passwd"} {
		name := "rec_2026010" + strconv.Itoa(i+1) + "_120000_337826_4971121843140_1_49711218431431_4915258878874.wav"
		if err := os.Symlink(target, filepath.Join(folder, name)); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		f := models.File{CustomerID: pool.CustomerID, Folder: "call_recording/337826/4971121843140", Name: name, Path: "call_recording/337826/4971121843140/" + name,
			Kind: models.KindRecording, CallAt: &at, PoolID: pool.ID, A: "1", B: "49711218431431", C: "4915258878874"}
		if err := e.store.CreateFileRow(context.Background(), &f); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/audio", "/download"} {
			if st, _, b := admin.raw("GET", "/recordings/"+strconv.Itoa(int(f.ID))+p, nil); st != http.StatusNotFound || bytes.Contains(b, []byte("root:")) {
				t.Errorf("symlink %s %s: %d", target, p, st)
			}
		}
		resp, _ := http.Get(e.srv.URL + "/api/v1/recordings/" + strconv.Itoa(int(f.ID)) + "/audio")
		resp.Body.Close()
	}
}

func TestRecordingDeleteAndZip(t *testing.T) {
	e := newEnv(t)
	pool := e.demoPool()
	now := time.Now()
	id1 := e.addRecording(pool, "c1", seedName, now.Add(-2*time.Hour), "49711218431440")
	id2 := e.addRecording(pool, "c2", "rec_20260101_120000_337826_4971121843140__49711218431431_4915258878874.wav", now.Add(-time.Hour), "")
	otherID := e.addRecording(e.otherPool, "c3", "rec_20260101_120000_999001_4930555000_1_4930555001_4930555999.wav", now, "1")
	admin := e.admin()
	admin.get("/files/call_recording/337826/4971121843140/")

	post := func(form url.Values) (int, http.Header, []byte) {
		form.Set("_csrf", admin.csrf)
		resp, err := admin.http.PostForm(e.srv.URL+"/recordings/bulk", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	ids := []string{strconv.Itoa(int(id1)), strconv.Itoa(int(id2))}
	st, h, b := post(url.Values{"id": ids, "action": {"zip"}})
	if st != 200 || h.Get("Content-Type") != "application/zip" {
		t.Fatalf("zip: %d %v", st, h)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil || len(zr.File) != 2 {
		t.Fatalf("zip: %v", err)
	}
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		got, _ := io.ReadAll(rc)
		want, _ := os.ReadFile(filepath.Join(e.dir, "call_recording/337826/4971121843140", zf.Name))
		if strings.Contains(zf.Name, "/") || !bytes.Equal(got, want) || len(want) == 0 {
			t.Fatalf("zip entry %s differs", zf.Name)
		}
	}
	if n := e.auditCount(models.AuditRecordingDownloaded); n != 2 {
		t.Fatalf("%d download events", n)
	}
	// A foreign id in the selection fails the whole request.
	if st, _, b := post(url.Values{"id": {ids[0], strconv.Itoa(int(otherID))}, "action": {"zip"}}); st != http.StatusNotFound || bytes.HasPrefix(b, []byte("PK")) {
		t.Fatalf("foreign zip: %d", st)
	}
	// Delete one without and with confirmation.
	rec := "/recordings/" + ids[0]
	if st, body, _ := admin.post(rec+"/delete", url.Values{}); st != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="error-confirm"`) {
		t.Fatalf("unconfirmed delete: %d", st)
	}
	if st, _, loc := admin.post(rec+"/delete", url.Values{"confirm": {"yes"}}); st != http.StatusSeeOther || loc != "/files/call_recording/337826/4971121843140/" {
		t.Fatalf("delete: %d %s", st, loc)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "call_recording/337826/4971121843140", seedName)); !os.IsNotExist(err) {
		t.Fatal("file still on disk")
	}
	if st, _ := admin.get(rec); st != http.StatusNotFound {
		t.Fatalf("deleted recording answers %d", st)
	}
	// Bulk delete refuses foreign ids and needs the confirmation.
	if st, _, _ := post(url.Values{"id": {ids[1], strconv.Itoa(int(otherID))}, "action": {"delete"}, "confirm": {"yes"}}); st != http.StatusNotFound {
		t.Fatalf("foreign bulk delete: %d", st)
	}
	post(url.Values{"id": {ids[1]}, "action": {"delete"}})
	if st, _ := admin.get("/recordings/" + ids[1]); st != 200 {
		t.Fatal("deleted without confirmation")
	}
	if st, _, _ := post(url.Values{"id": {ids[1]}, "action": {"delete"}, "confirm": {"yes"}, "back": {"/files/call_recording/337826/"}}); st != http.StatusSeeOther {
		t.Fatalf("bulk delete: %d", st)
	}
	if n := e.auditCount(models.AuditRecordingDeleted); n != 2 {
		t.Fatalf("%d delete events", n)
	}
	if st, _ := e.client().login(e.otherAdmin, e.otherPW).get("/recordings/" + strconv.Itoa(int(otherID))); st != 200 {
		t.Fatal("the other customer's recording went too")
	}
}

func TestRecordingsAPI(t *testing.T) {
	e := newEnv(t)
	pool := e.demoPool()
	now := time.Now().UTC().Truncate(time.Second)
	id := e.addRecording(pool, "c1", seedName, now.Add(-time.Hour), "49711218431440")
	e.addRecording(pool, "c2", "rec_20260101_120000_337826_4971121843140_4917111_49711218431431_4915258878874.wav", now.Add(-2*time.Hour), "4917111")
	otherID := e.addRecording(e.otherPool, "c3", "rec_20260101_120000_999001_4930555000_1_4930555001_4930555999.wav", now, "1")
	admin, agent, other := e.token(e.demo.Admin), e.token(e.demo.Agent), e.token(e.otherAdmin)

	var list struct {
		Recordings []map[string]any `json:"recordings"`
		Total      int              `json:"total"`
		Next       string           `json:"next_page"`
	}
	if st := e.api(admin, "GET", "/recordings?number=%2B49%20711%2021843144&pool="+strconv.Itoa(int(pool.ID)), nil, &list); st != 200 || list.Total != 1 || list.Recordings[0]["a"] != "49711218431440" {
		t.Fatalf("list: %d %+v", st, list)
	}
	if st := e.api(admin, "GET", "/recordings?limit=1", nil, &list); st != 200 || list.Total != 2 || len(list.Recordings) != 1 || list.Next == "" {
		t.Fatalf("page 1: %d %+v", st, list)
	}
	first, next := list.Recordings[0]["id"], list.Next
	list.Next = ""
	if st := e.api(admin, "GET", "/recordings?limit=1&page="+next, nil, &list); st != 200 || len(list.Recordings) != 1 || list.Recordings[0]["id"] == first || list.Next != "" {
		t.Fatalf("page 2: %d %+v", st, list)
	}
	if st := e.api(admin, "GET", "/recordings?limit=1&page=2", nil, &list); st != 200 || len(list.Recordings) != 1 || list.Recordings[0]["id"] == first {
		t.Fatalf("page=2: %d %+v", st, list)
	}
	var d map[string]any
	if st := e.api(admin, "GET", "/recordings/"+strconv.Itoa(int(id)), nil, &d); st != 200 || len(d["events"].([]any)) != 4 || d["subscriber_id"] != "337826" || d["b"] != "49711218431431" {
		t.Fatalf("detail: %d %v", st, d)
	}
	var w struct {
		Buckets int   `json:"buckets"`
		Peaks   []int `json:"peaks"`
	}
	if st := e.api(admin, "GET", "/recordings/"+strconv.Itoa(int(id))+"/waveform", nil, &w); st != 200 || w.Buckets != PeakBuckets || w.Peaks[500] < 80 {
		t.Fatalf("waveform: %d %d %v", st, w.Buckets, w.Peaks[:5])
	}
	var folder struct {
		Folders []map[string]string `json:"folders"`
		Files   []map[string]any    `json:"files"`
	}
	if st := e.api(admin, "GET", "/files?folder=call_recording/337826", nil, &folder); st != 200 || len(folder.Folders) != 1 || folder.Folders[0]["path"] != "call_recording/337826/4971121843140" {
		t.Fatalf("tree: %d %+v", st, folder)
	}
	if st := e.api(admin, "GET", "/files?folder=call_recording/337826/4971121843140", nil, &folder); st != 200 || len(folder.Files) != 2 {
		t.Fatalf("folder: %d %+v", st, folder)
	}
	if st := e.api(admin, "GET", "/files", nil, &folder); st != 200 || len(folder.Folders) != 2 {
		t.Fatalf("root: %d %+v", st, folder)
	}
	if st := e.api(agent, "GET", "/files", nil, &folder); st != 200 || len(folder.Folders) != 1 {
		t.Fatalf("agent root: %d %+v", st, folder)
	}
	// Agents, other customers and path tricks: 404.
	for _, c := range []struct{ tok, path string }{
		{agent, "/recordings"}, {agent, "/recordings/" + strconv.Itoa(int(id))}, {agent, "/recordings/" + strconv.Itoa(int(id)) + "/audio"},
		{agent, "/files?folder=call_recording/337826/4971121843140"}, {other, "/recordings/" + strconv.Itoa(int(id))},
		{other, "/recordings/" + strconv.Itoa(int(id)) + "/waveform"}, {other, "/files?folder=call_recording/337826/4971121843140"},
		{other, "/files?folder=call_recording/337826"}, {admin, "/recordings/" + strconv.Itoa(int(otherID)) + "/audio"},
		{admin, "/files?folder=call_recording/337826/../999001/4930555000"}, {admin, "/files?folder=call_recording/%2e%2e/999001"},
		{admin, "/files?folder=../../etc"}, {other, "/recordings?pool=" + strconv.Itoa(int(pool.ID))},
	} {
		var eb apiErrorBody
		if st := e.api(c.tok, "GET", c.path, nil, &eb); st != http.StatusNotFound || eb.Error.Code != "not_found" {
			t.Errorf("%s: %d %+v", c.path, st, eb)
		}
	}
	if st := e.api(other, "DELETE", "/recordings/"+strconv.Itoa(int(id)), nil, nil); st != http.StatusNotFound {
		t.Fatalf("foreign delete: %d", st)
	}
	if st := e.api(admin, "DELETE", "/recordings/"+strconv.Itoa(int(id)), nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	if st := e.api(admin, "GET", "/recordings/"+strconv.Itoa(int(id)), nil, nil); st != http.StatusNotFound {
		t.Fatalf("after delete: %d", st)
	}
}

func TestRetentionJob(t *testing.T) {
	e := newEnv(t)
	pool := e.demoPool()
	now := time.Now()
	oldID := e.addRecording(pool, "c1", "rec_old.wav", now.AddDate(0, 0, -8), "1")
	newID := e.addRecording(pool, "c2", "rec_new.wav", now.AddDate(0, 0, -6), "2")
	otherOld := e.addRecording(e.otherPool, "c3", "rec_other.wav", now.AddDate(0, 0, -30), "3")
	root := models.Actor{Role: models.RolePlatformAdmin}
	if n, err := e.web.ApplyRetention(context.Background()); err != nil || n != 0 {
		t.Fatalf("no retention set: %d %v", n, err)
	}
	// The booking engineer's settings row: retention 7 days for the demo pool only.
	if _, _, err := e.store.BookCallRecording(context.Background(), root, pool.ID, models.BookingInput{Accepted: true, Notice: models.LegalNotice{Text: "x", Language: "en"}}); err != nil {
		t.Fatal(err)
	}
	seven := 7
	if _, err := e.store.UpdateCallRecordingSettings(context.Background(), root, pool.ID, models.SettingsPatch{RetentionDays: &seven}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.web.RunRetention(ctx, time.Hour); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for e.auditCount(models.AuditRecordingDeleted) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if _, err := e.store.RecordingFile(context.Background(), root, oldID); err == nil {
		t.Fatal("old recording kept")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "call_recording/337826/4971121843140/rec_old.wav")); !os.IsNotExist(err) {
		t.Fatal("old file kept")
	}
	for _, id := range []uint{newID, otherOld} {
		if _, err := e.store.RecordingFile(context.Background(), root, id); err != nil {
			t.Fatalf("recording %d deleted: %v", id, err)
		}
	}
	if n := e.auditCount(models.AuditRecordingDeleted); n != 1 {
		t.Fatalf("%d deletion events", n)
	}
}
