// Package static holds the embedded assets: our stylesheet and scripts, and the vendored htmx
// 2.0.11 and its SSE extension 2.2.4 (from npm, see VENDORED.md). Nothing is loaded from a CDN.
package static

import (
	"embed"
	"net/http"
)

//go:embed *.css *.js *.svg
var files embed.FS

// FS is the embedded asset tree.
func FS() embed.FS { return files }

// Handler serves the assets with a cache lifetime; file names change with versions.
func Handler() http.Handler {
	fs := http.FileServer(http.FS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fs.ServeHTTP(w, r)
	})
}
