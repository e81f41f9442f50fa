package web

import (
	"fmt"
	"testing"
	"time"
)

// TestRecordingRowFormats holds the File Browser's hand-written formatting to what fmt and
// time.Format say.
func TestRecordingRowFormats(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	for _, at := range []time.Time{time.Date(2026, 3, 29, 1, 59, 59, 999, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2018, 9, 11, 15, 2, 22, 0, time.UTC)} {
		for _, loc := range []*time.Location{time.UTC, berlin} {
			if got, want := fmtDateTime(at.In(loc)), at.In(loc).Format("2006-01-02 15:04:05"); got != want {
				t.Errorf("fmtDateTime(%v) = %q, want %q", at.In(loc), got, want)
			}
		}
	}
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
	for _, n := range []int64{0, 1023, 1024, 1535, 1536, 1<<20 - 1, 1 << 20, 5<<20 + 1<<19, 1<<30 - 1, 1 << 30, 3 << 40} {
		var want string
		switch {
		case n >= 1<<30:
			want = fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
		case n >= 1<<20:
			want = fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
		case n >= 1<<10:
			want = fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
		default:
			want = fmt.Sprintf("%d B", n)
		}
		if got := fmtSize(n); got != want {
			t.Errorf("fmtSize(%d) = %q, want %q", n, got, want)
		}
	}
}
