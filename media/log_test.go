package media

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// The "call ended" line carries the recording's figures per leg as caller/callee
// milliseconds, -1 for a leg whose first packet never came: cmd/benchcheck reads them.
func TestRecordingAttrs(t *testing.T) {
	c := &call{}
	if a := c.recordingAttrs(); a != nil {
		t.Fatalf("no recording: %v", a)
	}
	ms := time.Millisecond
	c.info.Recording = &RecordingInfo{Path: "call_recording/1/2/rec.wav", FirstArrival: [2]time.Duration{120 * ms, -1},
		SentUntil: [2]time.Duration{59980 * ms, 0}, Skipped: [2]time.Duration{0, 1210 * ms},
		ArrivedLate: [2]time.Duration{40 * ms, 0}, Late: [2]time.Duration{0, 20 * ms}}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("call ended", c.recordingAttrs()...)
	want := `recording=call_recording/1/2/rec.wav first_ms=120/-1 sent_until_ms=59980/0 skipped_ms=0/1210 arrived_late_ms=40/0 late_ms=0/20 overrun_ms=0/0`
	if !strings.Contains(b.String(), want) {
		t.Errorf("line %q lacks %q", b.String(), want)
	}
}
