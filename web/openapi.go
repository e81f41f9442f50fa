package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"sync"

	"github.com/labstack/echo/v4"
)

// The OpenAPI document is assembled from one fragment per feature (openapi/*.json, each with
// "paths" and optional "components"), so features document their routes beside their code.
//
//go:embed openapi/*.json
var openapiFS embed.FS

var openapiDoc = sync.OnceValues(func() ([]byte, error) { return buildOpenAPI(openapiFS) })

func buildOpenAPI(fsys fs.FS) ([]byte, error) {
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "callrec API", "version": "1",
			"description": "Call recording Control Panel API. Authenticate with `Authorization: Bearer TOKEN` (create one on the account page or with `callrec apikey create --user NAME`). Errors are `{\"error\":{\"code\":\"snake_case\",\"message\":\"...\"}}`. Another customer's object is a 404."},
		"servers":  []any{map[string]any{"url": "/api/v1"}},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
	paths := map[string]map[string]any{}
	comps := map[string]map[string]any{"securitySchemes": {"bearer": map[string]any{"type": "http", "scheme": "bearer"}}}
	names, err := fs.Glob(fsys, "openapi/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		var frag struct {
			Paths      map[string]map[string]any `json:"paths"`
			Components map[string]map[string]any `json:"components"`
		}
		if err := json.Unmarshal(b, &frag); err != nil {
			return nil, fmt.Errorf("openapi %s: %w", n, err)
		}
		for p, ops := range frag.Paths {
			if paths[p] == nil {
				paths[p] = map[string]any{}
			}
			for m, op := range ops {
				if _, dup := paths[p][m]; dup {
					return nil, fmt.Errorf("openapi %s: %s %s documented twice", n, m, p)
				}
				paths[p][m] = op
			}
		}
		for kind, items := range frag.Components {
			if comps[kind] == nil {
				comps[kind] = map[string]any{}
			}
			for k, v := range items {
				comps[kind][k] = v
			}
		}
	}
	doc["paths"], doc["components"] = paths, comps
	return json.MarshalIndent(doc, "", "  ")
}

func openAPI(c echo.Context) error {
	b, err := openapiDoc()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/json", b)
}
