package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"mime"
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
	sessPlace = "flash_at" // the page section that shows the flash beside its controls
	sessLang  = "lang"     // chosen language before login
	sessSeen  = "seen"     // last activity, refreshed at most once a minute
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

// csrf rejects state-changing requests without the session's token, and cross-origin ones.
// The token is taken from, in this order:
//
//   - the X-CSRF-Token header (htmx sends it from the body's hx-headers, the upload script
//     sets it on its XMLHttpRequest);
//   - the _csrf query parameter (a multipart form puts it in its action, so a plain form post
//     without script works too);
//   - the _csrf field of an application/x-www-form-urlencoded body, read whole through a
//     reader bounded by maxForm (the route's body limit ran before), and given back to the
//     handler as it was.
//
// No other body is read here: a multipart body is never parsed before the request is known to
// be allowed, because parsing spills its files to TMPDIR (the temp files and memory of every
// anonymous post) and a copied request's files are not removed by net/http.
func (g *gate) csrf(maxForm int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
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
			if want == "" {
				return models.ErrCSRF
			}
			got := r.Header.Get("X-CSRF-Token")
			if got == "" {
				got = r.URL.Query().Get("_csrf")
			}
			if got == "" && isURLEncoded(r) {
				var err error
				if got, err = formToken(r, maxForm); err != nil {
					return err
				}
			}
			if subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
				return models.ErrCSRF
			}
			return next(c)
		}
	}
}

func isURLEncoded(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	return ct == echo.MIMEApplicationForm
}

// formToken reads the _csrf field of a URL-encoded body of at most max bytes and puts the body
// back for the handler.
func formToken(r *http.Request, max int64) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if isTooLarge(err) || int64(len(b)) > max {
		return "", models.ErrTooLarge
	}
	if err != nil {
		return "", models.ErrBadRequest.With("the form could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	vals, err := url.ParseQuery(string(b))
	if err != nil {
		return "", models.ErrBadRequest.With("the form is not URL-encoded")
	}
	return vals.Get("_csrf"), nil
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
		if errors.Is(err, models.ErrNotFound) {
			return models.ErrUnauthorized.With("the token is invalid or its user is disabled")
		}
		if err != nil { // the database away is a 503, not a bad token the client would throw away
			return err
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

// signedLink lets a request with a signed link's expires= and sig= through as the link's
// actor (models.LinkActor: that recording's customer, opening recordings only); a request
// without them goes to token, and a broken or expired link is refused, never passed on.
func (g *gate) signedLink(token echo.MiddlewareFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withToken := token(next)
		return func(c echo.Context) error {
			q := c.QueryParams()
			if !q.Has("sig") && !q.Has("expires") {
				return withToken(c)
			}
			id, err := idParam(c, "id")
			if err != nil {
				return err
			}
			ctx := c.Request().Context()
			if err := g.store.CheckRecordingLink(ctx, id, q.Get("expires"), q.Get("sig")); err != nil {
				return err
			}
			cid, err := g.store.RecordingFileCustomer(ctx, id)
			if err != nil {
				return err // deleted since the link was made
			}
			a := models.LinkActor(cid)
			u := &models.User{Username: a.Username, Role: a.Role, CustomerID: &cid, CanOpenRecordings: true}
			setCtx(c, context.WithValue(ctx, userKey{}, u))
			return next(c)
		}
	}
}
