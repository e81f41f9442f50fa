package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// TestAdmissionQueue runs the admission middleware with one slot on a real socket: a second
// GET waits for the first, a stream gives its slot back when it flushes or has written enough,
// forms are not queued, and nobody waits longer than maxWait. maxWait is long, so a request
// that returns well before it was not queued whatever the machine's speed.
func TestAdmissionQueue(t *testing.T) {
	const maxWait = 10 * time.Second
	a := &admission{slots: make(chan struct{}, 1), maxWait: maxWait, streamBytes: 64 << 10}
	hold, stream, big := make(chan struct{}), make(chan struct{}), make(chan struct{})
	e := echo.New()
	e.Use(a.middleware)
	e.GET("/hold", func(c echo.Context) error { <-hold; return c.String(200, "held") })
	e.GET("/quick", func(c echo.Context) error { return c.String(200, "quick") })
	e.POST("/quick", func(c echo.Context) error { return c.String(200, "posted") })
	e.GET("/stream", func(c echo.Context) error {
		c.Response().WriteHeader(200)
		c.Response().Write([]byte("data: 1\n\n"))
		c.Response().Flush()
		<-stream
		return nil
	})
	e.GET("/big", func(c echo.Context) error {
		c.Response().WriteHeader(200)
		c.Response().Write(make([]byte, 100<<10))
		c.Response().Flush()
		<-big
		return nil
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	get := func(method, path string) (string, time.Duration) {
		t0 := time.Now()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return "", 0
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 16))
		return string(b), time.Since(t0)
	}
	waitHeld := func() {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); len(a.slots) == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the slot was never taken")
			}
		}
	}

	// A GET behind a running GET waits for it, then runs.
	done := make(chan string)
	go func() { b, _ := get("GET", "/hold"); done <- b }()
	waitHeld()
	quick := make(chan string)
	go func() { b, _ := get("GET", "/quick"); quick <- b }()
	select {
	case b := <-quick:
		t.Fatalf("the second GET ran while the first held the only slot: %q", b)
	case <-time.After(100 * time.Millisecond):
	}
	close(hold)
	if b := <-done; b != "held" {
		t.Fatalf("first: %q", b)
	}
	if b := <-quick; b != "quick" {
		t.Fatalf("second: %q", b)
	}

	// A POST is not queued even when the slot is taken; a GET waits at most maxWait.
	hold2 := make(chan struct{})
	e.GET("/hold2", func(c echo.Context) error { <-hold2; return c.String(200, "held") })
	go func() { b, _ := get("GET", "/hold2"); done <- b }()
	waitHeld()
	if b, d := get("POST", "/quick"); b != "posted" || d > maxWait/2 {
		t.Fatalf("POST behind a held slot: %q after %v", b, d)
	}
	// The same slots behind a short maxWait: the GET waits that long, then runs anyway.
	short := &admission{slots: a.slots, maxWait: 300 * time.Millisecond, streamBytes: a.streamBytes}
	e2 := echo.New()
	e2.Use(short.middleware)
	e2.GET("/quick", func(c echo.Context) error { return c.String(200, "quick") })
	srv2 := httptest.NewServer(e2)
	defer srv2.Close()
	t0 := time.Now()
	if res, err := http.Get(srv2.URL + "/quick"); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET behind a stuck slot: %v", err)
	} else {
		res.Body.Close()
	}
	if d := time.Since(t0); d < short.maxWait {
		t.Fatalf("GET behind a stuck slot ran after %v, want it to wait %v first", d, short.maxWait)
	}
	close(hold2)
	<-done

	// Streams give their slot back: one that flushed, one that wrote more than streamBytes.
	for _, path := range []string{"/stream", "/big"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		if b, d := get("GET", "/quick"); b != "quick" || d > maxWait/2 {
			t.Fatalf("GET while %s is open: %q after %v", path, b, d)
		}
		res.Body.Close()
	}
	close(stream)
	close(big)
}
