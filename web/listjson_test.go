package web

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"callrec/models"
)

// TestRecordingListJSON holds the hand-written list JSON to encoding/json's bytes for the same
// answer: names needing escapes (HTML characters, quotes, control characters, non-ASCII,
// invalid UTF-8, U+2028), missing and present call times, pool 0, totals and page links.
func TestRecordingListJSON(t *testing.T) {
	rows := jsonTestRows()
	for _, page := range []models.BrowsePage{
		{Sort: "date", Desc: true, Total: 100_000, Next: "eyJzIjoiZGF0ZSJ9", Prev: "a+b/c="},
		{Sort: "name", Total: -1},
		{Sort: "size", Desc: true, Total: 1000, TotalMore: true, Next: "x<y"},
	} {
		for _, rs := range [][]recordingJSON{rows, {}, rows[:1]} {
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(recordingListBody(rs, page)); err != nil {
				t.Fatal(err)
			}
			arr, ok := appendRecordingsJSON(nil, rs)
			got := appendRecordingList(nil, arr, page)
			if !ok || string(got) != want.String() {
				t.Fatalf("ok=%v\n got: %s\nwant: %s", ok, got, want.String())
			}
		}
	}
	// A time encoding/json refuses is left to it.
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	r := rows[0]
	r.CallAt = &far
	if _, ok := appendRecordingsJSON(nil, []recordingJSON{r}); ok {
		t.Fatal("year 10000 encoded on the fast path")
	}
}

// jsonTestRows are recordings whose JSON needs every kind of care: names needing escapes (HTML
// characters, quotes, control characters, non-ASCII, invalid UTF-8, U+2028), missing and
// present call times, pool 0.
func jsonTestRows() []recordingJSON {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	names := []string{"rec_20260102_030405_337826_4971121843140_49170000000_49711218431431_4915258878874.wav",
		`a<b>&"c"\d.wav`, "tab\tnew\nline\x01\x1f.wav", "Grüße–日本.wav", "bad\xff\xfeutf8.wav", "line\u2028sep\u2029.wav", ""}
	var rows []recordingJSON
	for i, n := range names {
		f := models.File{ID: uint(i + 1), CustomerID: 1, Folder: "call_recording/337826/4971121843140", Name: n,
			Path: "call_recording/337826/4971121843140/" + n, Kind: models.KindRecording, Size: int64(i) * 12345, Codec: "pcm_s16le",
			Bits: 16, Rate: 8000, Channels: 1, DurationMS: int64(i) * 1001, Ready: i%2 == 0, A: "4917000000" + string(rune('0'+i)),
			B: "49711218431431", C: "4915258878874", PoolID: uint(i % 2), CreatedAt: at.Add(time.Duration(i) * time.Hour)}
		if i%3 != 0 {
			x := at.Add(time.Duration(i) * time.Minute)
			f.CallAt = &x
		}
		rows = append(rows, toRecordingJSON(f, berlin))
	}
	return rows
}

// TestFolderListJSON holds the hand-written folder answer of GET /api/v1/files to encoding/json's
// bytes for the same answer.
func TestFolderListJSON(t *testing.T) {
	rows := jsonTestRows()
	for _, c := range []struct {
		folder  string
		folders []folderJSON
		page    models.BrowsePage
	}{
		{"call_recording/337826/4971121843140", []folderJSON{}, models.BrowsePage{Total: 100_000, Next: "eyJzIjoibmFtZSJ9", Prev: "a+b/c="}},
		{"call_recording/337826/49711<&>", nil, models.BrowsePage{Total: 3, TotalMore: true}},
		{"call_recording/x", []folderJSON{{Name: "a\"b", Path: "call_recording/x/a\"b"}, {Name: "c", Path: "call_recording/x/c"}}, models.BrowsePage{Total: -1, Next: "x<y"}},
	} {
		for _, rs := range [][]recordingJSON{rows, {}} {
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(folderListBody(c.folder, c.folders, rs, c.page)); err != nil {
				t.Fatal(err)
			}
			arr, ok := appendRecordingsJSON(nil, rs)
			if got := appendFolderList(nil, c.folder, c.folders, arr, c.page); !ok || string(got) != want.String() {
				t.Fatalf("ok=%v\n got: %s\nwant: %s", ok, got, want.String())
			}
		}
	}
}
