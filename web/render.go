package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/models"
	"callrec/templates"
)

// render writes a templ component with a status code. The page is rendered into a buffer
// first and sent in one write with its length: a half-rendered page never goes out (an error
// still gets its error page), and a 30 kB list is one syscall instead of one per 4 kB.
func render(c echo.Context, status int, comp templ.Component) error {
	buf := getBuffer()
	defer putBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	h.Set(echo.HeaderContentLength, strconv.Itoa(buf.Len()))
	c.Response().WriteHeader(status)
	_, err := c.Response().Write(buf.Bytes())
	return err
}

// getBuffer and putBuffer lend the buffers whole answers are built in before they are sent.
func getBuffer() *bytes.Buffer { return answerBuffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 { // an unusually large answer does not stay in the pool
		b.Reset()
		answerBuffers.Put(b)
	}
}

var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// page builds the layout's data for a page; titleKey is an i18n ID, active a nav ID.
func (s *Server) page(c echo.Context, titleKey, active string) templates.Page {
	p := templates.Page{
		Title:  i18n.T(c.Request().Context(), titleKey),
		Active: active,
		User:   userOf(c),
		CSRF:   s.csrfToken(c),
	}
	if p.User != nil {
		p.Nav = navFor(models.ActorOf(*p.User))
		p.Flash = s.sessions.PopString(c.Request().Context(), sessFlash)
	}
	return p
}

// navFor lists the main navigation a role sees.
func navFor(a models.Actor) []templates.NavItem {
	var nav []templates.NavItem
	if a.IsPlatformAdmin() {
		nav = append(nav, templates.NavItem{ID: "customers", Href: "/admin/customers", Key: "nav.customers"},
			templates.NavItem{ID: "prices", Href: "/admin/prices", Key: "nav.prices"})
	}
	nav = append(nav, templates.NavItem{ID: "pools", Href: "/pools", Key: "nav.pools"})
	nav = append(nav, templates.NavItem{ID: "files", Href: "/files", Key: "files.nav"})
	nav = append(nav, templates.NavItem{ID: "live", Href: "/calls/live", Key: "calls.nav_live"},
		templates.NavItem{ID: "calls", Href: "/calls", Key: "calls.nav_log"})
	audit := templates.NavItem{ID: "audit", Href: "/audit", Key: "nav.audit"}
	switch {
	case a.IsPlatformAdmin(): // every customer's audit log
		nav = append(nav, audit)
	case a.IsAdmin():
		nav = append(nav, templates.NavItem{ID: "users", Href: "/users", Key: "nav.users"},
			templates.NavItem{ID: "settings", Href: "/settings", Key: "nav.settings"}, audit,
			templates.NavItem{ID: "ftp", Href: "/ftp-access", Key: "nav.ftp"})
	}
	return nav
}

// flash stores a one-time success message (an i18n key) for the next page.
func (s *Server) flash(c echo.Context, key string) {
	s.sessions.Put(c.Request().Context(), sessFlash, key)
}

// redirect answers 303 See Other, the way to end a successful form post.
func redirect(c echo.Context, to string) error { return c.Redirect(http.StatusSeeOther, to) }

// formErrors turns a store's validation error into the view's field errors; other errors pass.
func formErrors(err error) (templates.Errors, bool) {
	var ve models.ValidationError
	if !errors.As(err, &ve) {
		return nil, false
	}
	errs := templates.Errors{}
	for _, f := range ve {
		if errs[f.Field] == "" {
			errs[f.Field] = f.Key
		}
	}
	return errs, true
}

// storeError maps the store's sentinel errors to HTTP errors.
func storeError(err error) error {
	switch {
	case errors.Is(err, models.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "error.not_found")
	case errors.Is(err, models.ErrForbidden):
		return echo.NewHTTPError(http.StatusForbidden, "error.forbidden")
	case isTooLarge(err):
		return echo.ErrStatusRequestEntityTooLarge
	}
	return err
}

// handleError answers every error: JSON under /api/, a localized page elsewhere.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed || errors.Is(err, context.Canceled) { // nobody left to answer
		return
	}
	if isTooLarge(err) {
		err = echo.ErrStatusRequestEntityTooLarge
	}
	var ae *apiErr
	if errors.As(err, &ae) {
		_ = c.JSON(ae.Status, map[string]any{"error": map[string]string{"code": ae.Code, "message": ae.Message}})
		return
	}
	status, key := http.StatusInternalServerError, "error.internal"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
		if k, ok := he.Message.(string); ok && strings.HasPrefix(k, "error.") {
			key = k
		} else {
			key = statusKey(status)
		}
	}
	if status >= 500 {
		s.log.Error("request failed", "path", c.Request().URL.Path, "err", err)
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		code := strings.TrimPrefix(key, "error.")
		_ = c.JSON(status, map[string]any{"error": map[string]string{"code": code, "message": i18n.TL("en", key)}})
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	ctx := c.Request().Context()
	p := templates.Page{Title: i18n.T(ctx, statusKey(status)), User: userOf(c)}
	if p.User != nil {
		p.Nav = navFor(models.ActorOf(*p.User))
		p.CSRF = s.csrfToken(c)
	}
	if err := render(c, status, templates.ErrorPage(p, status, key)); err != nil {
		s.log.Error("render error page", "err", err)
	}
}

func statusKey(status int) string {
	switch status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return "error.not_found"
	case http.StatusForbidden:
		return "error.forbidden"
	case http.StatusRequestEntityTooLarge:
		return "error.too_large"
	case http.StatusTooManyRequests:
		return "error.rate_limited"
	case http.StatusUnauthorized:
		return "error.unauthorized"
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "error.bad_request"
	}
	return "error.internal"
}

// apiErr is a JSON API error with a stable snake_case code.
type apiErr struct {
	Status  int
	Code    string
	Message string
}

func (e *apiErr) Error() string { return e.Code + ": " + e.Message }

func apiError(status int, code, msg string) error { return &apiErr{status, code, msg} }
