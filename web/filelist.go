package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"

	"callrec/models"
)

// listViews is the File Browser's read path from a listing to what is sent: the rendered list of
// a folder page and the recordings API's and files API's answers. models.Store.Browse gives the
// page (the query, cached as rows under the scope's version: models/listcache.go); this keeps
// what is made of it.
//
// The invalidation rule, here and nowhere else: a view is kept under a viewKey made of the
// page's Listing, which names one listing of one scope at one version of it (the files
// triggers move the version with every insert, update and delete of a file in the scope,
// whoever writes, in the writer's transaction), and of every other value the view shows: the
// page's totals and links, the language, time zones, permissions, the filter as typed, pool
// names, sub-folders. A view is therefore answered only for a request that would make the same
// bytes; after a write its key is never asked for again and it ages out. The recordings' facts a
// list shows (recorded time, consent) are written in the transaction that writes the file's row,
// so its version covers them. A page without a Listing (read while the scope changed) is made
// and not kept.
//
// Memory is bounded by bytes: two generations, the older dropped when the newer holds
// listViewBytes (a hit in the older moves the view to the newer).
type listViews struct {
	mu       sync.Mutex
	cur, old map[string][]byte
	size     int
	hits     int // for tests
}

const listViewBytes = 8 << 20

// viewKey is the key of a view of page: its kind, the page's listing, the page's values around
// the rows and parts, every other value the view shows. "" (nothing kept) for a page without a
// Listing.
func viewKey(kind string, page models.BrowsePage, parts ...string) string {
	if page.Listing == 0 {
		return ""
	}
	b := make([]byte, 0, 128)
	b = append(b, kind...)
	b = strconv.AppendUint(append(b, 0), page.Listing, 10)
	b = strconv.AppendInt(append(b, 0), page.Total, 10)
	b = strconv.AppendBool(append(b, 0), page.TotalMore)
	b = strconv.AppendBool(append(b, 0), page.Desc)
	for _, p := range append([]string{page.Sort, page.Next, page.Prev}, parts...) {
		b = strconv.AppendInt(append(b, 0), int64(len(p)), 10) // length-prefixed: no two lists make one key
		b = append(append(b, ':'), p...)
	}
	return string(b)
}

// view is the view under key, made by build when it is not kept (and then kept, unless key is "").
// The bytes are shared: callers write them, never change them.
func (v *listViews) view(key string, build func() ([]byte, error)) ([]byte, error) {
	if key != "" {
		if b, ok := v.get(key); ok {
			return b, nil
		}
	}
	b, err := build()
	if err == nil && key != "" {
		v.put(key, b)
	}
	return b, err
}

func (v *listViews) get(key string) ([]byte, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	b, ok := v.cur[key]
	if !ok {
		if b, ok = v.old[key]; ok {
			delete(v.old, key)
			v.putLocked(key, b)
		}
	}
	if ok {
		v.hits++
	}
	return b, ok
}

func (v *listViews) put(key string, b []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.putLocked(key, b)
}

func (v *listViews) putLocked(key string, b []byte) {
	if v.cur == nil {
		v.cur = map[string][]byte{}
	}
	if prev, ok := v.cur[key]; ok {
		v.size -= len(prev) + len(key)
	}
	if v.size+len(b)+len(key) > listViewBytes {
		v.old, v.cur, v.size = v.cur, map[string][]byte{}, 0
	}
	v.cur[key] = b
	v.size += len(b) + len(key)
}

// jsonView is body as c.JSON sends it (encoding/json, HTML characters escaped, a final newline).
func jsonView(body any) ([]byte, error) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(body); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeJSONView answers with the API view under key, made of body() when not kept; ?pretty
// (indented) is made each time by c.JSON.
func (v *listViews) writeJSONView(c echo.Context, key string, body func() any) error {
	if _, pretty := c.QueryParams()["pretty"]; pretty {
		return c.JSON(http.StatusOK, body())
	}
	b, err := v.view(key, func() ([]byte, error) { return jsonView(body()) })
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
	c.Response().WriteHeader(http.StatusOK)
	_, err = c.Response().Write(b)
	return err
}
