package web

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/models"
)

// TestOwnDeletionShownOnEveryNode: two nodes (web servers with their own stores) on one
// PostgreSQL database, node B's notifications of files held. A customer admin deletes a
// recording on node A; the next listing on node B, in that admin's browser, lacks it
// (wroteCookie: B reads the folder's version fresh), while another browser before that still
// got B's kept listing: what B shows anyone else until the notification arrives
// (models/scopeversions.go) or a fresh read has kept the new version.
func TestOwnDeletionShownOnEveryNode(t *testing.T) {
	e := newEnv(t)
	if e.store.Backend() != "postgres" {
		t.Skip("SQLite keeps no scope versions in memory")
	}
	pool := e.demoPool()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	keepName := "rec_20260301_100000_337826_4971121843140_4917000000001_49711218431431_4915258878874.wav"
	goneName := "rec_20260301_110000_337826_4971121843140_4917000000002_49711218431431_4915258878874.wav"
	e.addRecording(pool, "own-1", keepName, at, "4917000000001")
	gone := e.addRecording(pool, "own-2", goneName, at.Add(time.Hour), "4917000000002")

	storeB, err := models.Open(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer storeB.Close()
	nodeB := httptest.NewServer(New(Config{DataDir: e.dir}, storeB).Handler())
	defer nodeB.Close()
	folder := "/files/call_recording/337826/4971121843140/"
	// on gets a page from node B with the cookies the client's jar holds for node A.
	on := func(cl *client, path string) (int, string) {
		t.Helper()
		a, _ := url.Parse(e.srv.URL)
		b, _ := url.Parse(nodeB.URL)
		jar, _ := cookiejar.New(nil)
		jar.SetCookies(b, cl.http.Jar.Cookies(a))
		resp, err := (&http.Client{Jar: jar}).Get(nodeB.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		_, _ = io.Copy(&sb, resp.Body)
		return resp.StatusCode, sb.String()
	}
	admin, other := e.admin(), e.admin()
	for _, cl := range []*client{admin, other} { // B keeps the folder's version and listing
		for range 2 {
			if st, body := on(cl, folder); st != http.StatusOK || !strings.Contains(body, goneName) {
				t.Fatalf("node B's listing before the deletion: %d, lists it: %v", st, strings.Contains(body, goneName))
			}
		}
	}
	release := storeB.HoldFileNotices()
	defer release()
	if st, _, _ := admin.post("/recordings/"+strconv.Itoa(int(gone))+"/delete", url.Values{"confirm": {"yes"}}); st != http.StatusSeeOther {
		t.Fatalf("delete on node A: %d", st)
	}
	// Another browser first: B answers it from what it keeps (a fresh read would keep the new
	// version for everyone).
	if _, body := on(other, folder); !strings.Contains(body, goneName) {
		t.Error("another browser's listing on node B, which has not heard of the deletion, lacks it: the test shows nothing")
	}
	if st, body := on(admin, folder); st != http.StatusOK || strings.Contains(body, goneName) || !strings.Contains(body, keepName) {
		t.Errorf("node B's next listing for the admin who deleted it: %d, still lists it: %v", st, strings.Contains(body, goneName))
	}
	if _, body := on(other, folder); strings.Contains(body, goneName) {
		t.Error("after the fresh read, node B still lists the deleted recording to others")
	}
}
