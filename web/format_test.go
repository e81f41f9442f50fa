package web

import (
	"fmt"
	"testing"
	"time"

	"callrec/models"
	"callrec/templates"
)

// TestRecordingRowFormats holds the File Browser's duration to what fmt says (dates and
// sizes: i18n.TestFormats).
func TestRecordingRowFormats(t *testing.T) {
	for _, ms := range []int64{0, 499, 500, 59_499, 59_500, 61_000, 3_599_499, 3_599_500, 3_600_000, 36_000_000, 360_000_000_000} {
		sec := (ms + 500) / 1000
		want := fmt.Sprintf("%d:%02d", sec/60, sec%60)
		if sec >= 3600 {
			want = fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
		}
		if got := fmtDuration(ms); got != want {
			t.Errorf("fmtDuration(%d) = %q, want %q", ms, got, want)
		}
	}
}

// TestRecordingRowParts: a recorded call's row comes from its columns; a withheld caller, a
// file without call columns (taken from its name) and a name of another form still fill it.
func TestRecordingRowParts(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	at := time.Date(2018, 9, 11, 13, 2, 22, 0, time.UTC)
	seed := "rec_20180911_150222_337826_4971121843140_49711218431440__49711218431431_4915258878874.wav"
	for _, c := range []struct {
		f    models.File
		want templates.RecordingRow
	}{
		{models.File{ID: 1, Name: seed, CallAt: &at, A: "4917", B: "4971", C: "4915", DurationMS: 61_000, Size: 2048},
			templates.RecordingRow{ID: 1, Name: seed, Href: "/recordings/1", Date: "11.09.2018 15:02", A: "4917", B: "4971", C: "4915", Duration: "1:01", Size: "2\u00a0kB"}},
		{models.File{ID: 2, Name: seed, CallAt: &at, B: "4971", C: "4915"},
			templates.RecordingRow{ID: 2, Name: seed, Href: "/recordings/2", Date: "11.09.2018 15:02", B: "4971", C: "4915", Withheld: true, Duration: "0:00", Size: "0\u00a0B"}},
		{models.File{ID: 3, Name: seed},
			templates.RecordingRow{ID: 3, Name: seed, Href: "/recordings/3", Date: "11.09.2018 15:02", A: "49711218431440", B: "49711218431431", C: "4915258878874", Duration: "0:00", Size: "0\u00a0B"}},
		{models.File{ID: 4, Name: "notes.wav"},
			templates.RecordingRow{ID: 4, Name: "notes.wav", Href: "/recordings/4", Duration: "0:00", Size: "0\u00a0B"}},
	} {
		if got := recordingRow(c.f, berlin, "de"); got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.f.Name, got, c.want)
		}
	}
}
