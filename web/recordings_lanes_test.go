package web

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/calls"
	"callrec/models"
)

// TestStereoRecordingLanes: a stereo recording's page draws the caller's side and the callee's
// as two lanes, and its API waveform gives each side besides the mixed peaks. The caller talks
// in the first half, the callee in the second; peaks stored as one lane (as before lanes) are
// computed again once.
func TestStereoRecordingLanes(t *testing.T) {
	e := newEnv(t)
	pool := e.demoPool()
	name := "rec_20260301_100000_337826_4971121843140_4917000123_49711218431431_4915258878874.wav"
	rel := "call_recording/337826/4971121843140/" + name
	const frames = 4 * 8000
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+4*frames))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(2), uint32(8000), uint32(32000), uint16(4), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(4*frames))
	for i := range frames {
		l, r := int16(0), int16(0)
		loud := int16(20000)
		if i%2 == 1 {
			loud = -20000
		}
		if i < frames/2 {
			l = loud
		} else {
			r = loud
		}
		binary.Write(&b, binary.LittleEndian, [2]int16{l, r})
	}
	p := filepath.Join(e.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	if _, err := e.store.SaveCall(ctx, models.CallRecord{EngineID: "st1", CustomerID: pool.CustomerID, PoolID: pool.ID,
		A: "4917000123", B: "49711218431431", C: "4915258878874", Arrival: at, Answered: at, Bridged: at, Ended: at.Add(4 * time.Second),
		State: "ended", RecState: "stopped", Outcome: calls.OutcomeCompleted, Recorded: 4 * time.Second,
		Segments:  []calls.Segment{{Start: 0, End: 4 * time.Second}},
		Recording: &models.RecordingRecord{Path: rel, Channels: 2, Size: int64(b.Len()), Duration: 4 * time.Second, Recorded: 4 * time.Second, Final: true}}); err != nil {
		t.Fatal(err)
	}
	root := models.Actor{Role: models.RolePlatformAdmin}
	page, err := e.store.Browse(ctx, root, models.BrowseQuery{Folder: "call_recording/337826/4971121843140", Limit: 10})
	if err != nil || len(page.Files) != 1 {
		t.Fatalf("browse: %v %d", err, len(page.Files))
	}
	id := page.Files[0].ID
	d, err := e.store.RecordingFile(ctx, root, id)
	if err != nil || d.Recording == nil {
		t.Fatal(err)
	}
	if err := e.store.SetRecordingPeaks(ctx, d.Recording.ID, make([]byte, PeakBuckets)); err != nil { // one lane, silent
		t.Fatal(err)
	}

	st, body := e.admin().get("/recordings/" + strconv.Itoa(int(id)))
	if st != 200 || !strings.Contains(body, `data-testid="lane-caller"`) || !strings.Contains(body, `data-testid="lane-callee"`) ||
		!strings.Contains(body, "oben: Anrufer") {
		t.Fatalf("stereo page without two lanes: %d\n%s", st, body)
	}
	if d, _ = e.store.RecordingFile(ctx, root, id); len(d.Recording.Peaks) != 2*PeakBuckets {
		t.Fatalf("stored peaks: %d bytes, want a lane per side", len(d.Recording.Peaks))
	}
	var w struct {
		Buckets  int     `json:"buckets"`
		Peaks    []int   `json:"peaks"`
		Channels [][]int `json:"channels"`
	}
	if st := e.api(e.token(e.demo.Admin), "GET", "/recordings/"+strconv.Itoa(int(id))+"/waveform", nil, &w); st != 200 || w.Buckets != PeakBuckets || len(w.Channels) != 2 {
		t.Fatalf("waveform: %d %d buckets, %d channels", st, w.Buckets, len(w.Channels))
	}
	caller, callee := w.Channels[0], w.Channels[1]
	if caller[250] < 150 || callee[250] != 0 || caller[750] != 0 || callee[750] < 150 || w.Peaks[250] < 150 || w.Peaks[750] < 150 {
		t.Fatalf("lanes at 1/4: caller %d callee %d; at 3/4: caller %d callee %d; mixed %d %d",
			caller[250], callee[250], caller[750], callee[750], w.Peaks[250], w.Peaks[750])
	}
}
