package sip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimitHandlerBoundsAFlood(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newLimitHandler(slog.NewTextHandler(&buf, nil), 5))
	garbage := strings.Repeat("x", 10000)
	for i := 0; i < 1000; i++ {
		log.Error("parse failed", "msg", garbage, "n", i)
	}
	out := buf.String()
	if n := strings.Count(out, "parse failed"); n != 5 {
		t.Fatalf("%d records passed in one second, want 5", n)
	}
	if strings.Contains(out, strings.Repeat("x", maxValue+1)) {
		t.Fatal("a value was not cut")
	}
	time.Sleep(1100 * time.Millisecond)
	log.Error("parse failed", "msg", "again")
	if !strings.Contains(buf.String(), "dropped=995") {
		t.Fatalf("no report of the dropped records:\n%s", buf.String()[len(out):])
	}
}
