package web

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"

	"github.com/a-h/templ"
	"github.com/alexedwards/scs/v2"
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

// upsertStatus is a PUT's status: 201 when it created what it names, else 200.
func upsertStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// redirect answers 303 See Other, the way to end a successful form post.
func redirect(c echo.Context, to string) error { return c.Redirect(http.StatusSeeOther, to) }

// views is what every page needs from the session besides its own data: the CSRF token of its
// forms and the one-time flash message.
type views struct{ sessions *scs.SessionManager }

// page builds the layout's data for a page; titleKey is an i18n ID, active a nav ID.
func (v views) page(c echo.Context, titleKey, active string) templates.Page {
	p := templates.Page{
		Title:  i18n.T(c.Request().Context(), titleKey),
		Active: active,
		User:   userOf(c),
		CSRF:   v.csrfToken(c),
	}
	if p.User != nil {
		p.Nav = navFor(models.ActorOf(*p.User))
		p.Flash = v.sessions.PopString(c.Request().Context(), sessFlash)
		v.sessions.Remove(c.Request().Context(), sessPlace)
	}
	return p
}

// flash stores a one-time success message (an i18n key) for the head of the next page.
func (v views) flash(c echo.Context, key string) {
	v.sessions.Put(c.Request().Context(), sessFlash, key)
	v.sessions.Remove(c.Request().Context(), sessPlace)
}

// flashAt stores a one-time message that the section place of the next page shows beside the
// control that was used, instead of the page's head far above it. A page without that section
// shows it at its head.
func (v views) flashAt(c echo.Context, key, place string) {
	v.sessions.Put(c.Request().Context(), sessFlash, key)
	v.sessions.Put(c.Request().Context(), sessPlace, place)
}

// takeFlash returns the pending message when it belongs to place, and removes it.
func (v views) takeFlash(c echo.Context, place string) string {
	ctx := c.Request().Context()
	if place == "" || v.sessions.GetString(ctx, sessPlace) != place {
		return ""
	}
	v.sessions.Remove(ctx, sessPlace)
	return v.sessions.PopString(ctx, sessFlash)
}

// csrfToken returns the session's CSRF token, creating one on first use.
func (v views) csrfToken(c echo.Context) string {
	ctx := c.Request().Context()
	tok := v.sessions.GetString(ctx, sessCSRF)
	if tok == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		tok = hex.EncodeToString(b)
		v.sessions.Put(ctx, sessCSRF, tok)
	}
	return tok
}

// navFor lists the main navigation a role sees.
func navFor(a models.Actor) []templates.NavItem {
	nav := []templates.NavItem{{ID: "home", Href: "/", Key: "nav.home"}}
	if a.IsPlatformAdmin() {
		nav = append(nav, templates.NavItem{ID: "customers", Href: "/admin/customers", Key: "nav.customers"},
			templates.NavItem{ID: "prices", Href: "/admin/prices", Key: "nav.prices"},
			templates.NavItem{ID: "nodes", Href: "/admin/nodes", Key: "nodes.nav"},
			templates.NavItem{ID: "destinations", Href: "/admin/destinations", Key: "nav.destinations"})
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
		if !a.IsPlatformAdmin() {
			nav = append(nav, templates.NavItem{ID: "webhooks", Href: "/webhooks", Key: "webhooks.nav"})
		}
	}
	return nav
}
