package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callrec/internal/gctune"
	"callrec/internal/testtool"
	"callrec/models"
)

// TestFileBrowserLoad is the File Browser's speed check (BENCHMARKS.md, "File Browser"): a real
// server on 127.0.0.1 with 100,000 recordings in one folder, 50 concurrent clients fetching pages
// of 50 entries (first pages in every sort order, deep keyset pages, number filters) for a while,
// then the same against the recordings API. It reports latency percentiles; it runs only with
// CALLREC_LOAD=1 (a minute of full CPU):
//
//	CALLREC_LOAD=1 go test ./web -run TestFileBrowserLoad -v -count 1
func TestFileBrowserLoad(t *testing.T) {
	if os.Getenv("CALLREC_LOAD") != "1" {
		t.Skip("set CALLREC_LOAD=1 to run the File Browser load test")
	}
	defer gctune.Serve(os.Getenv)() // the collector as callrec serve sets it up
	rows := envInt("CALLREC_LOAD_ROWS", 100_000)
	clients := envInt("CALLREC_LOAD_CLIENTS", 50)
	dur := time.Duration(envInt("CALLREC_LOAD_SECONDS", 15)) * time.Second
	e := newEnv(t)
	ctx := context.Background()
	pool := e.demoPool()
	folder := "call_recording/337826/4971121843140"
	start := time.Now()
	seedRows(t, e.store, pool, folder, rows)
	t.Logf("seeded %d rows in %v", rows, time.Since(start).Round(time.Millisecond))

	// Deep cursors: positions spread over the folder, for pages far from the first.
	root := models.Actor{Role: models.RolePlatformAdmin}
	var deep []string
	for _, sort := range []string{"date", "name", "caller", "duration"} {
		q := models.BrowseQuery{Folder: folder, Sort: sort, Desc: sort == "date", Limit: 500, NoTotal: true}
		for i := 0; ; i++ {
			p, err := e.store.Browse(ctx, root, q)
			if err != nil {
				t.Fatal(err)
			}
			if p.Next == "" {
				break
			}
			if i%40 == 39 {
				deep = append(deep, sort+"|"+p.Next)
			}
			q.Cursor = p.Next
		}
	}
	base := "/files/" + folder + "/"
	var pages []string
	for _, s := range models.BrowseSorts {
		pages = append(pages, base+"?sort="+s+"&order=asc", base+"?sort="+s+"&order=desc")
	}
	for _, d := range deep {
		sort, cur, _ := strings.Cut(d, "|")
		order := "asc"
		if sort == "date" {
			order = "desc"
		}
		pages = append(pages, base+"?sort="+sort+"&order="+order+"&cursor="+url.QueryEscape(cur))
	}
	pages = append(pages, base, base+"?number=4917000123", base+"?from=2026-01-03&to=2026-01-04")

	// Web pages with a logged-in admin's session cookie.
	admin := e.admin()
	if st, body := admin.get(pages[0]); st != 200 || !strings.Contains(body, `data-testid="files-table"`) {
		t.Fatalf("page: %d", st)
	}
	u, _ := url.Parse(e.srv.URL)
	cookies := admin.http.Jar.Cookies(u)
	// The load goes to a second server on the same handler that also times each request from
	// the handler's start (the request's headers read) to its end: what the server itself takes,
	// admission queue included, apart from the time a request waits to be read at all.
	var inServer handlerTimes
	srv := httptest.NewServer(inServer.wrap(e.web.Handler()))
	defer srv.Close()
	res := load(t, srv.URL, pages, clients, dur, func(r *http.Request) {
		for _, c := range cookies {
			r.AddCookie(c)
		}
	})
	t.Logf("File Browser pages (%d URLs, %d clients): %s; in the server %s", len(pages), clients, res, inServer.take())
	cookie := ""
	for _, c := range cookies {
		cookie += c.Name + "=" + c.Value + "; "
	}
	hdr := "Cookie: " + cookie
	for _, p := range []string{pages[0], pages[len(pages)-4], base + "?number=4917000123"} {
		wrk(t, srv.URL, p, []string{p}, clients, hdr, &inServer)
	}
	// The same pages while the folder gets a new recording every 100 ms (a very busy pool):
	// every insert moves the folder's version, so its cached listings are read anew.
	stop := addRecordings(t, e.store, pool, folder, 100*time.Millisecond)
	wrk(t, srv.URL, "33 page URLs, a new recording every 100 ms", pages, clients, hdr, &inServer)
	t.Logf("recordings added meanwhile: %d", stop())
	// Pages that are never in the listing cache: 1,600 distinct keyset pages in four sort
	// orders, visited round-robin, 80,000 rows against the cache's 10,000.
	var cold []string
	for _, sort := range []string{"date", "name", "caller", "duration"} {
		q := models.BrowseQuery{Folder: folder, Sort: sort, Desc: sort == "date", Limit: 250, NoTotal: true}
		order := map[bool]string{true: "desc", false: "asc"}[q.Desc]
		for {
			p, err := e.store.Browse(ctx, root, q)
			if err != nil {
				t.Fatal(err)
			}
			if p.Next == "" {
				break
			}
			cold = append(cold, base+"?sort="+sort+"&order="+order+"&cursor="+url.QueryEscape(p.Next))
			q.Cursor = p.Next
		}
	}
	wrk(t, srv.URL, fmt.Sprintf("%d distinct keyset pages, none cached", len(cold)), cold, clients, hdr, &inServer)

	// The recordings API with a bearer token.
	tok := e.token(e.demo.Admin)
	apiPages := []string{"/api/v1/recordings?limit=50", "/api/v1/recordings?limit=50&pool=" + strconv.Itoa(int(pool.ID)),
		"/api/v1/recordings?limit=50&from=2026-01-02&to=2026-01-03", "/api/v1/recordings?limit=50&page=40",
		"/api/v1/files?folder=" + folder, "/api/v1/recordings?limit=50&number=4917000123"}
	res = load(t, srv.URL, apiPages, clients, dur, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) })
	t.Logf("recordings API (%d URLs, %d clients): %s; in the server %s", len(apiPages), clients, res, inServer.take())
	for _, p := range apiPages[:2] {
		wrk(t, srv.URL, p, []string{p}, clients, "Authorization: Bearer "+tok, &inServer)
	}
}

// addRecordings inserts a recording row into folder every interval until the returned stop,
// which says how many it added.
func addRecordings(t *testing.T, s *models.Store, pool models.Pool, folder string, interval time.Duration) (stop func() int) {
	done := make(chan struct{})
	var n atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			at := time.Now().UTC().Truncate(time.Second)
			name := fmt.Sprintf("rec_%s_337826_4971121843140_4917%07d_49711218431431_4915258878874.wav", at.Format("20060102_150405"), n.Load())
			f := models.File{CustomerID: pool.CustomerID, Folder: folder, Name: name, Path: folder + "/" + name, Kind: models.KindRecording,
				Size: 160044, Codec: "pcm_s16le", Bits: 16, Rate: 8000, Channels: 1, DurationMS: 10_000, CallAt: &at,
				A: fmt.Sprintf("4917%07d", n.Load()), B: "49711218431431", C: "4915258878874", PoolID: pool.ID}
			if err := s.CreateFileRow(context.Background(), &f); err != nil {
				t.Error(err)
				return
			}
			n.Add(1)
		}
	})
	return func() int {
		close(done)
		wg.Wait()
		return int(n.Load())
	}
}

// wrk measures paths with wrk (a C load generator: less of the two CPUs goes to the clients
// than with the Go generator above) when it is installed: one path, or several visited
// round-robin by each connection (a Lua script).
//
// Clients of a real server run on other machines; here wrk shares the server's two cores, and
// whenever the kernel runs wrk's threads instead of a server thread that is in the middle of a
// request, that request waits a time slice: on this machine that alone put p99 at 40-100 ms.
// So wrk runs at a lower priority (nice 10, CALLREC_LOAD_NICE; 0 for equal terms), which is
// what clients elsewhere amount to: the server's cores are the server's.
func wrk(t *testing.T, base, label string, paths []string, clients int, header string, inServer *handlerTimes) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		t.Log("wrk not installed (Debian package wrk): skipping the wrk runs")
		return
	}
	secs := strconv.Itoa(envInt("CALLREC_LOAD_SECONDS", 15))
	nice := "10"
	if v, ok := os.LookupEnv("CALLREC_LOAD_NICE"); ok {
		nice = v
	}
	threads := strconv.Itoa(envInt("CALLREC_LOAD_WRK_THREADS", 2))
	args := []string{"-n", nice, bin, "-t" + threads, "-c" + strconv.Itoa(clients), "-d" + secs + "s", "--latency", "-H", header, base + paths[0]}
	if len(paths) > 1 {
		var lua strings.Builder
		lua.WriteString("local paths = {\n")
		for _, p := range paths {
			fmt.Fprintf(&lua, "%q,\n", p)
		}
		lua.WriteString("}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(nil, paths[(i % #paths) + 1])\nend\n")
		script := filepath.Join(t.TempDir(), "paths.lua")
		if err := os.WriteFile(script, []byte(lua.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-s", script)
	}
	t.Logf("wrk -t%s at nice %s", threads, nice)
	cpu0 := testtool.ProcessCPU() // with wrk as the client, the server's CPU
	out, err := exec.Command("nice", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	cpu := testtool.ProcessCPU() - cpu0
	if m := regexp.MustCompile(`(\d+) requests in`).FindSubmatch(out); m != nil {
		n, _ := strconv.Atoi(string(m[1]))
		t.Logf("server CPU per request: %v (%v for %d requests)", (cpu / time.Duration(max(n, 1))).Round(time.Microsecond), cpu.Round(time.Millisecond), n)
	}
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(out); m != nil {
		t.Errorf("wrk %s: %s responses were not 200", label, m[1])
	}
	if len(label) > 90 {
		label = label[:90] + "..."
	}
	t.Logf("wrk %s (in the server %s):\n%s", label, inServer.take(), out)
}

// handlerTimes is a histogram of handler times in 100 us steps (the last bucket: 100 ms and more).
type handlerTimes struct{ buckets [1001]atomic.Int64 }

func (h *handlerTimes) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		h.buckets[min(int(time.Since(start)/(100*time.Microsecond)), len(h.buckets)-1)].Add(1)
	})
}

// take reports p50, p90 and p99 (upper bucket bounds) and starts over.
func (h *handlerTimes) take() string {
	var counts [len(handlerTimes{}.buckets)]int64
	var n int64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Swap(0)
		n += counts[i]
	}
	out := ""
	for _, p := range []float64{.5, .9, .99} {
		var acc int64
		for i, c := range counts {
			if acc += c; float64(acc) >= p*float64(n) {
				out += fmt.Sprintf(" p%.0f %v", p*100, time.Duration(i+1)*100*time.Microsecond)
				break
			}
		}
	}
	return strings.TrimSpace(out)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// seedRows bulk-inserts n recording rows into folder (one transaction, multi-row inserts).
func seedRows(t testing.TB, s *models.Store, pool models.Pool, folder string, n int) {
	t.Helper()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 10_000
	for off := 0; off < n; off += batch {
		rows := make([]models.File, 0, batch)
		for i := off; i < min(off+batch, n); i++ {
			at := base.Add(time.Duration(i) * 37 * time.Second)
			a := fmt.Sprintf("4917%07d", (i*7919)%10_000_000)
			name := "rec_" + at.Format("20060102_150405") + "_337826_4971121843140_" + a + "_49711218431431_4915258878874.wav"
			rows = append(rows, models.File{CustomerID: pool.CustomerID, Folder: folder, Name: name, Path: folder + "/" + name,
				Kind: models.KindRecording, Size: int64(44 + (i%3600)*16000), Codec: "pcm_s16le", Bits: 16, Rate: 8000, Channels: 1,
				DurationMS: int64(i%3600) * 1000, CallAt: &at, A: a, B: "49711218431431", C: "4915258878874", PoolID: pool.ID})
		}
		if err := s.CreateFileRows(context.Background(), rows); err != nil {
			t.Fatal(err)
		}
	}
}

type loadResult struct {
	n, errs            int
	rps                float64
	p50, p90, p99, max time.Duration
}

func (r loadResult) String() string {
	return fmt.Sprintf("%d requests, %d errors, %.0f req/s, p50 %v, p90 %v, p99 %v, max %v", r.n, r.errs, r.rps,
		r.p50.Round(10*time.Microsecond), r.p90.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.max.Round(10*time.Microsecond))
}

// load runs clients closed-loop workers for d, each cycling through paths.
func load(t testing.TB, base string, paths []string, clients int, d time.Duration, auth func(*http.Request)) loadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs atomic.Int64
		wg   sync.WaitGroup
	)
	stop := time.Now().Add(d)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := w; time.Now().Before(stop); i++ {
				req, _ := http.NewRequest("GET", base+paths[i%len(paths)], nil)
				auth(req)
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				mine = append(mine, time.Since(t0))
				if err != nil {
					if errs.Add(1) == 1 {
						t.Logf("%s: %v", paths[i%len(paths)], err)
					}
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lats)
	pct := func(p float64) time.Duration { return lats[min(len(lats)-1, int(p*float64(len(lats))))] }
	return loadResult{n: len(lats), errs: int(errs.Load()), rps: float64(len(lats)) / d.Seconds(),
		p50: pct(.5), p90: pct(.9), p99: pct(.99), max: lats[len(lats)-1]}
}

// BenchmarkFileBrowserRequest is the server's own work for one File Browser request on a folder
// of 100,000 recordings, without network or load generator: the handler chain (session, user,
// CSRF, language), the store query and the rendering, called in-process. cpu-ns/op is what a
// request costs the two cores the load test shares with its clients.
//
//	go test ./web -run '^$' -bench FileBrowserRequest -benchmem
func BenchmarkFileBrowserRequest(b *testing.B) {
	defer gctune.Serve(os.Getenv)() // the collector as callrec serve sets it up
	e := newEnv(b)
	pool := e.demoPool()
	folder := "call_recording/337826/4971121843140"
	seedRows(b, e.store, pool, folder, 100_000)
	u, _ := url.Parse(e.srv.URL)
	admin := e.admin()
	cookies := admin.http.Jar.Cookies(u)
	tok := e.token(e.demo.Admin)
	deep, err := e.store.Browse(context.Background(), models.Actor{Role: models.RolePlatformAdmin},
		models.BrowseQuery{Folder: folder, Sort: "duration", Limit: 500, NoTotal: true, Page: 120})
	if err != nil || deep.Next == "" {
		b.Fatal(err)
	}
	base := "/files/" + folder + "/"
	// page-cold visits 400 distinct keyset pages in turn: none is in the listing cache when it
	// comes round again (20,000 rows against the cache's 10,000).
	var cold []string
	for q := (models.BrowseQuery{Folder: folder, Sort: "name", Limit: 200, NoTotal: true}); len(cold) < 400; {
		p, err := e.store.Browse(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, q)
		if err != nil || p.Next == "" {
			b.Fatal(err, len(cold))
		}
		cold = append(cold, base+"?sort=name&order=asc&cursor="+url.QueryEscape(p.Next))
		q.Cursor = p.Next
	}
	var turn atomic.Int64
	for _, c := range []struct{ name, path string }{
		{"page-cold", ""},
		{"page-first", base},
		{"page-deep", base + "?sort=duration&order=asc&cursor=" + url.QueryEscape(deep.Next)},
		{"page-number", base + "?number=4917000123"},
		{"api-list", "/api/v1/recordings?limit=50"},
		{"api-pool", "/api/v1/recordings?limit=50&pool=" + strconv.Itoa(int(pool.ID))},
	} {
		h := e.web.Handler()
		get := func(b *testing.B) {
			// Cancellable, as net/http makes a request's context (the SQLite driver works
			// differently with one).
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			path := c.path
			if path == "" {
				path = cold[turn.Add(1)%int64(len(cold))]
			}
			req := httptest.NewRequestWithContext(ctx, "GET", path, nil)
			if strings.HasPrefix(path, "/api/") {
				req.Header.Set("Authorization", "Bearer "+tok)
			} else {
				for _, ck := range cookies {
					req.AddCookie(ck)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("%s: %d", path, rec.Code)
			}
		}
		b.Run(c.name, func(b *testing.B) {
			cpu := testtool.ProcessCPU()
			for b.Loop() {
				get(b)
			}
			testtool.ReportCPU(b, cpu)
		})
		// The same with 50 requests at a time, as the load test's clients make them.
		b.Run(c.name+"-50", func(b *testing.B) {
			b.SetParallelism(max(1, 50/runtime.GOMAXPROCS(0)))
			cpu := testtool.ProcessCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b)
				}
			})
			testtool.ReportCPU(b, cpu)
		})
	}
}
