package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/models"
)

// gate is the front door's middleware: session user, language, CSRF check, API tokens.
type gate struct {
	store    *models.Store
	sessions *scs.SessionManager
}

type userKey struct{}

// userOf is the logged-in (or token-authenticated) user, or nil.
func userOf(c echo.Context) *models.User {
	u, _ := c.Request().Context().Value(userKey{}).(*models.User)
	return u
}

// actorOf is the scoping identity of the request; the zero Actor sees nothing.
func actorOf(c echo.Context) models.Actor {
	if u := userOf(c); u != nil {
		return models.ActorOf(*u)
	}
	return models.Actor{}
}

func setCtx(c echo.Context, ctx context.Context) { c.SetRequest(c.Request().WithContext(ctx)) }

// Session keys.
const (
	sessUser  = "user_id"
	sessStamp = "auth_stamp" // changes when the password changes: old sessions die with it
	sessCSRF  = "csrf"
	sessFlash = "flash"
	sessLang  = "lang" // chosen language before login
	sessSeen  = "seen" // last activity, refreshed at most once a minute
)

// Session lifetimes: an absolute limit (scs Lifetime) and an idle limit enforced in loadUser.
const (
	sessionIdle    = 2 * time.Hour
	seenResolution = time.Minute
)

// authStamp ties a session to the password it was opened with, so a reset revokes it.
func authStamp(u *models.User) string {
	h := sha256.Sum256([]byte(u.PasswordHash))
	return hex.EncodeToString(h[:8])
}

// loadUser puts the session's user into the request context. A disabled user, a changed
// password or a deleted account end the session at once.
func (g *gate) loadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		id := g.sessions.GetInt64(ctx, sessUser)
		if id == 0 {
			return next(c)
		}
		now := time.Now()
		seen := time.Unix(g.sessions.GetInt64(ctx, sessSeen), 0) // unix seconds: gob-safe
		if seen.Unix() != 0 && now.Sub(seen) > sessionIdle {
			_ = g.sessions.Destroy(ctx)
			return next(c)
		}
		if now.Sub(seen) >= seenResolution {
			g.sessions.Put(ctx, sessSeen, now.Unix())
		}
		u, err := g.store.UserByID(ctx, uint(id))
		if err != nil || g.sessions.GetString(ctx, sessStamp) != authStamp(&u) {
			if err != nil && !errors.Is(err, models.ErrNotFound) {
				return err
			}
			_ = g.sessions.Destroy(ctx)
			return next(c)
		}
		setCtx(c, context.WithValue(ctx, userKey{}, &u))
		return next(c)
	}
}

// language decides the UI language: the user's own, else the customer's, else the browser's,
// else German.
func (g *gate) language(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		setCtx(c, i18n.WithLang(ctx, g.pickLanguage(c)))
		return next(c)
	}
}

func (g *gate) pickLanguage(c echo.Context) string {
	if u := userOf(c); u != nil {
		if i18n.Supported(u.Language) {
			return u.Language
		}
		if u.Customer != nil && i18n.Supported(u.Customer.Language) {
			return u.Customer.Language
		}
	} else if l := g.sessions.GetString(c.Request().Context(), sessLang); i18n.Supported(l) {
		return l
	}
	if l := i18n.FromAcceptLanguage(c.Request().Header.Get("Accept-Language")); l != "" {
		return l
	}
	return i18n.Default
}

// csrf rejects state-changing requests without the session's token (form field _csrf or header
// X-CSRF-Token, which htmx sends from the body's hx-headers) and cross-origin requests.
func (g *gate) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if o := r.Header.Get("Origin"); o != "" && o != "null" {
			if u, err := url.Parse(o); err != nil || !strings.EqualFold(u.Host, r.Host) {
				return models.ErrCSRF
			}
		}
		want := g.sessions.GetString(r.Context(), sessCSRF)
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = c.FormValue("_csrf")
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			return models.ErrCSRF
		}
		return next(c)
	}
}

// requireLogin sends anonymous visitors to the login page (htmx gets a full redirect).
func requireLogin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if userOf(c) == nil {
			if c.Request().Header.Get("HX-Request") == "true" {
				c.Response().Header().Set("HX-Redirect", "/login")
				return c.NoContent(http.StatusUnauthorized)
			}
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		return next(c)
	}
}

// apiAuth authenticates API calls by bearer token; no cookies, so no CSRF.
func (g *gate) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			return models.ErrUnauthorized.With("a bearer token is required")
		}
		u, err := g.store.UserByToken(c.Request().Context(), strings.TrimSpace(tok))
		if err != nil {
			return models.ErrUnauthorized.With("the token is invalid or its user is disabled")
		}
		ctx := context.WithValue(c.Request().Context(), userKey{}, &u)
		lang := u.Language
		if lang == "" && u.Customer != nil {
			lang = u.Customer.Language
		}
		setCtx(c, i18n.WithLang(ctx, lang))
		return next(c)
	}
}
