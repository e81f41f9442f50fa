package web

import (
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// admission lets a few GET requests run at a time and queues the rest in arrival order. The
// work behind a page is CPU (SQLite, rendering); fifty requests at once on two cores take no
// less CPU in total than one after another, but each waits behind all the others and the
// unlucky ones wait much longer: with 50 File Browser clients the 99th percentile was ten
// times the median, with a queue it is under twice (BENCHMARKS.md, File Browser).
//
// A request leaves its slot when it ends, when it flushes (server-sent events) or once it has
// written more than streamBytes (downloads, audio): a stream's time belongs to its
// client's network, not to the CPU. Forms and uploads (not GET) are not queued, and no request
// waits longer than maxWait for a slot, so a stuck request delays others but cannot
// stop them.
type admission struct {
	slots       chan struct{}
	maxWait     time.Duration
	streamBytes int
}

func newAdmission() *admission {
	return &admission{slots: make(chan struct{}, max(4, 2*runtime.GOMAXPROCS(0))), maxWait: time.Second, streamBytes: 256 << 10}
}

func (a *admission) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodGet && r.Method != http.MethodHead || r.URL.Path == "/healthz" || strings.HasPrefix(r.URL.Path, "/static/") {
			return next(c)
		}
		if !a.acquire() {
			return next(c)
		}
		res := c.Response()
		w := &admittedWriter{ResponseWriter: res.Writer, limit: a.streamBytes, release: a.release}
		res.Writer = w
		defer func() {
			res.Writer = w.ResponseWriter
			w.leave()
		}()
		return next(c)
	}
}

// acquire takes a slot, waiting at most maxWait; false means go ahead without one.
func (a *admission) acquire() bool {
	select {
	case a.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(a.maxWait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

func (a *admission) release() { <-a.slots }

// admittedWriter gives the slot back when the response turns out to be a stream.
type admittedWriter struct {
	http.ResponseWriter
	written, limit int
	release        func() // nil once released
}

func (w *admittedWriter) leave() {
	if w.release != nil {
		w.release()
		w.release = nil
	}
}

func (w *admittedWriter) Write(b []byte) (int, error) {
	w.written += len(b)
	if w.written > w.limit {
		w.leave()
	}
	return w.ResponseWriter.Write(b)
}

func (w *admittedWriter) Flush() {
	w.leave()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *admittedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
