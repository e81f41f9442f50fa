package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTestCallRecords: "callrec testcall" against a running product (what make call runs) places
// a call with its built-in caller and callee, and a recording of it appears; against a pool
// without Call Recording it says what to do instead.
func TestTestCallRecords(t *testing.T) {
	p := startProduct(t)
	env := func(k string) string {
		return map[string]string{"CALLREC_DATA": p.data, "CALLREC_DB": p.db, "CALLREC_SIP": p.sip, "CALLREC_TRUNK": "127.0.0.1:" + strconv.Itoa(p.trunkPort)}[k]
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"testcall", "--seconds", "3"}, env, &out)
	if err == nil || !strings.Contains(err.Error(), "not booked") {
		t.Fatalf("testcall before booking: %v\n%s", err, out.String())
	}
	tok := p.token("demo-admin")
	p.bookDemoPool(tok)
	out.Reset()
	if err := run(context.Background(), []string{"testcall", "--seconds", "9"}, env, &out); err != nil {
		t.Fatalf("testcall: %v\n%s\n%s", err, out.String(), p.out)
	}
	// The recording is listed, and once the call's end is stored it holds the recorded talk.
	type rec struct {
		ID         uint   `json:"id"`
		Name       string `json:"name"`
		RecordedMS int64  `json:"recorded_ms"`
		Status     string `json:"status"`
	}
	var got rec
	deadline := time.Now().Add(30 * time.Second)
	for {
		var page struct {
			Recordings []rec `json:"recordings"`
		}
		p.api(tok, "GET", "/recordings", nil, &page)
		if len(page.Recordings) == 1 {
			p.api(tok, "GET", "/recordings/"+strconv.Itoa(int(page.Recordings[0].ID)), nil, &got)
		}
		if got.Status == "complete" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got.Status != "complete" || got.RecordedMS < 1000 ||
		!strings.Contains(got.Name, "_49711218431440_49711218431431_4915258878874.wav") {
		t.Fatalf("recording after the test call: %+v\n%s", got, out.String())
	}
}
