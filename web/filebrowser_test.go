package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/models"
)

func TestFileBrowserPermissions(t *testing.T) {
	e := newEnv(t)
	pool := e.demoPool()
	id := e.addRecording(pool, "c1", seedName, time.Date(2018, 9, 11, 13, 2, 22, 0, time.UTC), "49711218431440")
	otherID := e.addRecording(e.otherPool, "c2", "rec_20260101_120000_999001_4930555000_4917000_4930555001_4930555999.wav", time.Now(), "4917000")
	admin, agent := e.admin(), e.agent()
	other := e.client().login(e.otherAdmin, e.otherPW)
	folder := "/files/call_recording/337826/4971121843140/"
	rec := "/recordings/" + strconv.Itoa(int(id))

	st, body := admin.get("/files")
	if st != 200 || !strings.Contains(body, `data-testid="folder-call_recording"`) || !strings.Contains(body, `data-testid="nav-files"`) {
		t.Fatalf("admin root: %d", st)
	}
	st, body = admin.get(folder)
	if st != 200 || !strings.Contains(body, seedName) || !strings.Contains(body, `data-testid="breadcrumbs"`) {
		t.Fatalf("admin folder: %d\n%s", st, body)
	}
	st, body = admin.get(rec)
	if st != 200 || !strings.Contains(body, `data-testid="waveform"`) || !strings.Contains(body, "49711218431440") || strings.Count(body, `data-testid="trail-event"`) != 4 {
		t.Fatalf("admin recording: %d", st)
	}
	// The agent may not open recordings: no call_recording folder, 404 everywhere.
	st, body = agent.get("/files")
	if st != 200 || strings.Contains(body, `folder-call_recording`) {
		t.Fatalf("agent root: %d", st)
	}
	for _, p := range []string{"/files/call_recording", folder, rec, rec + "/audio", rec + "/download", "/files/call_recording/337826/"} {
		if st, _ := agent.get(p); st != http.StatusNotFound {
			t.Errorf("agent %s: %d", p, st)
		}
	}
	// Another customer: 404 for the demo's folder and recording; and vice versa.
	for _, p := range []string{folder, rec, rec + "/audio", "/files/call_recording/337826/"} {
		if st, _ := other.get(p); st != http.StatusNotFound {
			t.Errorf("other customer %s: %d", p, st)
		}
	}
	if st, _ := admin.get("/recordings/" + strconv.Itoa(int(otherID)) + "/audio"); st != http.StatusNotFound {
		t.Errorf("admin opened the other customer's audio: %d", st)
	}
	// Path tricks.
	for _, p := range []string{"/files/call_recording/..%2f..%2f", "/files/call_recording/%2e%2e/%2e%2e/etc", "/files/call_recording/337826/%2e%2e/999001/4930555000/",
		"/files/call_recording/337826/..%2F999001%2F4930555000", "/files/call_recording/999001/4930555000/", "/files/call_recording/.hidden/", "/files/call_recording/337826/4971121843140/x/y/",
		"/recordings/..%2f1", "/recordings/0", "/recordings/-1/audio"} {
		st, _, b := admin.raw("GET", p, nil)
		if st != http.StatusNotFound || strings.Contains(string(b), "4930555000/rec_") {
			t.Errorf("%s: %d", p, st)
		}
	}
	// A permission granted: a user who may open recordings but is no admin sees them, cannot delete.
	if st, body, _ := agent.post(rec+"/delete", url.Values{"confirm": {"yes"}}); st != http.StatusNotFound {
		t.Errorf("agent delete: %d %s", st, body)
	}
}

// A file whose name is not a recording name (copied into the folder by hand) is still listed
// and opens, without name parts, call or trail.
func TestUnparsedRecordingListed(t *testing.T) {
	e := newEnv(t)
	pool := e.demoPool()
	e.addRecording(pool, "c1", seedName, time.Now(), "49711218431440")
	rel := "call_recording/337826/4971121843140/Kundengespraech-Mueller.wav"
	size := writeWAV(t, e.dir, rel, 2)
	f := models.File{CustomerID: pool.CustomerID, Folder: "call_recording/337826/4971121843140", Name: "Kundengespraech-Mueller.wav", Path: rel,
		Kind: models.KindRecording, Size: size, Channels: 1, DurationMS: 2000, PoolID: pool.ID}
	if err := e.store.CreateFileRow(context.Background(), &f); err != nil {
		t.Fatal(err)
	}
	admin := e.admin()
	for _, sort := range []string{"", "?sort=name&order=asc", "?sort=date&order=asc", "?sort=caller&order=desc"} {
		if st, body := admin.get("/files/call_recording/337826/4971121843140/" + sort); st != 200 || !strings.Contains(body, "Kundengespraech-Mueller.wav") || !strings.Contains(body, seedName) {
			t.Fatalf("listing %q: %d", sort, st)
		}
	}
	st, body := admin.get("/recordings/" + strconv.Itoa(int(f.ID)))
	if st != 200 || !strings.Contains(body, `data-testid="waveform"`) || strings.Contains(body, `data-testid="trail-event"`) {
		t.Fatalf("page: %d", st)
	}
}

// TestFileListMarkup checks the list's rows escape what they show, read as people read a call
// (caller -> dialed number, the file name beneath), and that the sort header marks only the
// current column.
func TestFileListMarkup(t *testing.T) {
	e := newEnv(t)
	pool := e.demoPool()
	name := `rec_"<b>&'x.wav`
	id := e.addRecording(pool, "c1", name, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), "")
	plain := "rec_20260301_100000_337826_4971121843140_4917000123_49711218431431_4915258878874.wav"
	e.addRecording(pool, "c2", plain, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), "4917000123")
	_, body := e.admin().get("/files/call_recording/337826/4971121843140/")
	esc := `rec_&#34;&lt;b&gt;&amp;&#39;x.wav`
	sid := strconv.Itoa(int(id))
	row := `<tr data-testid="file-row-` + sid + `"><td><input type="checkbox" name="id" value="` + sid +
		`" aria-label="` + esc + `" data-testid="select-` + sid + `"></td><td class="play"><button type="button" class="play" data-src="/recordings/` +
		sid + `/audio" aria-label="Abspielen: unterdrückt → 49711218431431, 01.03.2026 10:00" aria-pressed="false" data-testid="play-` +
		sid + `"><span class="play-icon" aria-hidden="true"></span></button></td><td class="name" data-label="Anruf"><a href="/recordings/` +
		sid + `" data-testid="file-link"><span class="muted">unterdrückt</span> → 49711218431431</a> <span class="file-name" title="` + esc + `">` + esc +
		`</span></td><td class="num">01.03.2026 10:00</td><td class="num">4915258878874</td>`
	if !strings.Contains(body, row) || strings.Contains(body, `<b>&'`) {
		t.Fatalf("row of %q not as expected:\n%s", name, body)
	}
	// What people read besides the numbers: the call's and the recorded time, the size, the
	// pool's name and whether the caller was told (the test call played the notice, then the
	// callee pressed #1).
	tail := `<td class="num">0:04</td><td class="num">0:02</td><td class="num">63` + "\u00a0" + `kB</td><td class="pool">` + pool.Name +
		`</td><td class="consent">mit #1 unterbrochen</td></tr>`
	if strings.Count(body, tail) != 2 {
		t.Fatalf("rows do not end in durations, size, pool name and consent %q:\n%s", tail, body)
	}
	// The call's header sorts by caller, dialed number and file name.
	for _, k := range []string{"caller", "dialed", "name", "date", "destination", "duration", "size"} {
		if !strings.Contains(body, `data-testid="sort-`+k+`"`) {
			t.Errorf("no sort link for %s", k)
		}
	}
	// The breadcrumbs and folder names use the customer's and the pool's names.
	if !strings.Contains(body, `<li><a href="/files/call_recording/337826">Demo GmbH (337826)</a></li><li><span aria-current="page">`+pool.Name+`</span></li>`) {
		t.Fatalf("breadcrumbs without names:\n%s", body)
	}
	_, body = e.admin().get("/files/call_recording/337826/")
	if !strings.Contains(body, `data-testid="folder-4971121843140">`+pool.Name+` (4971121843140)</a>`) {
		t.Fatalf("pool folder not named after the pool:\n%s", body)
	}
	if strings.Count(body, `aria-sort=`) != 1 || !strings.Contains(body, `aria-sort="descending"`) || strings.Contains(body, " else") {
		t.Fatalf("sort header: %d aria-sort", strings.Count(body, `aria-sort=`))
	}
	_, body = e.admin().get("/files/call_recording/337826/4971121843140/?sort=name&order=asc")
	if strings.Count(body, `aria-sort=`) != 1 || !strings.Contains(body, `aria-sort="ascending"`) {
		t.Fatalf("sort header by name: %d aria-sort", strings.Count(body, `aria-sort=`))
	}
}

// TestFileListFollowsWrites checks the File Browser's list, whose rendered rows are kept with
// the cached listing, against changes of the files and of what the rows' text depends on: the
// customer's time zone and language.
func TestFileListFollowsWrites(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pool := e.demoPool()
	id := e.addRecording(pool, "w1", "rec_w1.wav", time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), "4917000123")
	e.addRecording(pool, "w2", "rec_w2.wav", time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC), "")
	admin := e.admin()
	folder := "/files/call_recording/337826/4971121843140/"
	expect := func(when string, want ...string) {
		t.Helper()
		for range 2 { // the second time from the cache
			st, body := admin.get(folder)
			for _, w := range want {
				if st != 200 || !strings.Contains(body, w) {
					t.Fatalf("%s: %d, no %q in the list", when, st, w)
				}
			}
		}
	}
	expect("first", "01.03.2026 10:00", ">4917000123 → ", "unterdrückt", `data-testid="bulk-delete"`)
	// The same list for a user who may open recordings but not delete them: no delete button.
	root := models.Actor{Role: models.RolePlatformAdmin}
	u, err := e.store.CreateUser(ctx, root, pool.CustomerID, models.UserInput{Username: "listener", Password: "listener-pw-123456",
		Role: models.RoleAgent, CanOpenRecordings: true, Language: "de"})
	if err != nil {
		t.Fatal(err)
	}
	listener := e.client().login(u.Username, "listener-pw-123456")
	for range 2 {
		if st, body := listener.get(folder); st != 200 || !strings.Contains(body, ">4917000123 → ") || strings.Contains(body, `data-testid="bulk-delete"`) {
			t.Fatalf("listener: %d, delete button %v", st, strings.Contains(body, `data-testid="bulk-delete"`))
		}
	}
	expect("admin again", `data-testid="bulk-delete"`)
	// The subscriber's folder offers its pools by name (when it has several): a renamed pool
	// shows its new name.
	if _, err := e.store.CreatePool(ctx, root, pool.CustomerID, models.PoolInput{Name: "Second pool", StartNumber: "4971121843200",
		Destination: "4915258878874", Numbers: []string{"4971121843201"}}); err != nil {
		t.Fatal(err)
	}
	sub := "/files/call_recording/337826/"
	for range 2 {
		if st, body := admin.get(sub); st != 200 || !strings.Contains(body, pool.Name+" ("+pool.StartNumber+")") {
			t.Fatalf("subscriber folder: %d, no pool %q", st, pool.Name)
		}
	}
	full, err := e.store.Pool(ctx, root, pool.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.UpdatePool(ctx, root, pool.ID, models.PoolInput{Name: "Renamed pool", StartNumber: full.StartNumber,
		Destination: full.Destination, Numbers: full.NumberList()}); err != nil {
		t.Fatal(err)
	}
	if st, body := admin.get(sub); st != 200 || !strings.Contains(body, "Renamed pool ("+pool.StartNumber+")") {
		t.Fatalf("subscriber folder after the rename: %d", st)
	}
	// The pool's own folder names its pool in every row (not only in the breadcrumbs).
	for range 2 {
		if st, body := admin.get(folder); st != 200 || !strings.Contains(body, `<td class="pool">Renamed pool</td>`) || strings.Contains(body, `<td class="pool">`+pool.Name+"</td>") {
			t.Fatalf("pool folder after the rename: %d, rows name the new pool %v", st, strings.Contains(body, `<td class="pool">Renamed pool</td>`))
		}
	}
	// A raw write, as another process makes it: on PostgreSQL shown once its notification has
	// arrived (models/scopeversions.go), at once on SQLite.
	if _, err := e.store.SQL().Exec("UPDATE files SET a = '4917000999' WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); e.store.Backend() == "postgres"; time.Sleep(5 * time.Millisecond) {
		if _, body := admin.get(folder); strings.Contains(body, ">4917000999 → ") || time.Now().After(deadline) {
			break
		}
	}
	expect("caller changed", ">4917000999 → ")
	tok := e.token(e.demo.Admin)
	for range 2 { // the second time from the cache
		var list struct {
			Recordings []struct {
				ID uint
				A  string
			}
		}
		if st := e.api(tok, "GET", "/recordings", nil, &list); st != 200 || len(list.Recordings) != 2 {
			t.Fatalf("API list: %d %+v", st, list)
		}
		for _, r := range list.Recordings {
			if r.ID == id && r.A != "4917000999" {
				t.Fatalf("API list shows caller %q", r.A)
			}
		}
	}
	c, err := e.store.Customer(ctx, models.Actor{Role: models.RolePlatformAdmin}, pool.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.UpdateCustomer(ctx, models.Actor{Role: models.RolePlatformAdmin}, c.ID,
		models.CustomerInput{Name: c.Name, SubscriberID: c.SubscriberID, Language: "en", TimeZone: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	expect("zone and language changed", "2026-03-01 04:00", ">4917000999 → ", "withheld")
}
