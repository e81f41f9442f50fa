package web

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strings"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/internal/ratelimit"
	"callrec/models"
	"callrec/templates"
)

// authHandler is signing in and out, the language menu and the user's own account.
type authHandler struct {
	store    *models.Store
	sessions *scs.SessionManager
	logins   *ratelimit.Failures // failed logins per client address and per user name
	views    views
	log      *slog.Logger
}

type customerJSON struct {
	ID           uint   `json:"id"`
	Name         string `json:"name"`
	SubscriberID string `json:"subscriber_id"`
	Language     string `json:"language"`
	TimeZone     string `json:"time_zone"`
}

type meJSON struct {
	ID                uint          `json:"id"`
	Username          string        `json:"username"`
	Role              models.Role   `json:"role"`
	CanOpenRecordings bool          `json:"can_open_recordings"`
	Language          string        `json:"language"`
	Customer          *customerJSON `json:"customer"`
}

func toCustomerJSON(c *models.Customer) *customerJSON {
	if c == nil {
		return nil
	}
	return &customerJSON{ID: c.ID, Name: c.Name, SubscriberID: c.SubscriberID, Language: c.Language, TimeZone: c.TimeZone}
}

func (h *authHandler) apiMe(c echo.Context) error {
	u := userOf(c)
	a := models.ActorOf(*u)
	return c.JSON(http.StatusOK, meJSON{ID: u.ID, Username: u.Username, Role: u.Role,
		CanOpenRecordings: a.MayOpenRecordings(), Language: u.Language, Customer: toCustomerJSON(u.Customer)})
}

func (h *authHandler) loginPage(c echo.Context) error {
	if userOf(c) != nil {
		return redirect(c, "/")
	}
	return render(c, http.StatusOK, templates.Login(templates.LoginProps{Page: h.views.page(c, "login.title", "")}))
}

// login checks credentials, rate-limited per client IP and per user name.
func (h *authHandler) login(c echo.Context) error {
	ctx := c.Request().Context()
	name := strings.TrimSpace(c.FormValue("username"))
	pw := c.FormValue("password")
	keys := []string{"ip:" + c.RealIP(), "user:" + strings.ToLower(name)}
	for _, k := range keys {
		if blocked, left := h.logins.Blocked(k); blocked {
			return render(c, http.StatusTooManyRequests, templates.Login(templates.LoginProps{
				Page: h.views.page(c, "login.title", ""), Username: name,
				Error: "login.rate_limited", Wait: int(math.Ceil(left.Minutes())),
			}))
		}
	}
	u, err := h.store.Authenticate(ctx, name, pw)
	if err != nil {
		if !errors.Is(err, models.ErrInvalidCredentials) {
			return err
		}
		for _, k := range keys {
			h.logins.Fail(k)
		}
		h.log.Warn("login failed", "user", name, "ip", c.RealIP())
		return render(c, http.StatusUnprocessableEntity, templates.Login(templates.LoginProps{
			Page: h.views.page(c, "login.title", ""), Username: name, Error: "login.invalid",
		}))
	}
	// Only the account's count starts again: the address keeps its failures, or one client
	// could guess other accounts' passwords between logins to an account of its own.
	h.logins.Reset(keys[1])
	// A new token on login defeats session fixation.
	if err := h.sessions.RenewToken(ctx); err != nil {
		return err
	}
	h.sessions.Put(ctx, sessUser, int64(u.ID))
	h.sessions.Put(ctx, sessStamp, authStamp(&u))
	h.sessions.Remove(ctx, sessCSRF)
	h.views.flash(c, "flash.logged_in")
	return redirect(c, "/")
}

func (h *authHandler) logout(c echo.Context) error {
	if err := h.sessions.Destroy(c.Request().Context()); err != nil {
		return err
	}
	return redirect(c, "/login")
}

// setLanguage switches the UI language from the footer menu: stored on the user when logged in,
// in the session before.
func (h *authHandler) setLanguage(c echo.Context) error {
	lang := c.FormValue("language")
	if !i18n.Supported(lang) {
		return models.ErrLanguageInvalid
	}
	if u := userOf(c); u != nil {
		if err := h.store.SetUserLanguage(c.Request().Context(), u.ID, lang); err != nil {
			return err
		}
	} else {
		h.sessions.Put(c.Request().Context(), sessLang, lang)
	}
	back := c.Request().Referer()
	if back == "" || !sameOrigin(c, back) {
		back = "/"
	}
	return redirect(c, back)
}

// sameOrigin keeps redirects on this host (no open redirect through Referer).
func sameOrigin(c echo.Context, ref string) bool {
	host := c.Request().Host
	return strings.HasPrefix(ref, "http://"+host+"/") || strings.HasPrefix(ref, "https://"+host+"/")
}

func (h *authHandler) accountPage(c echo.Context) error {
	p, err := h.accountProps(c, userOf(c).Language)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.Account(p))
}

func (h *authHandler) accountLanguage(c echo.Context) error {
	u := userOf(c)
	lang := c.FormValue("language")
	if err := h.store.SetUserLanguage(c.Request().Context(), u.ID, lang); err != nil {
		if errs, ok := formErrors(err); ok {
			return h.accountInvalid(c, lang, errs)
		}
		return err
	}
	h.views.flash(c, "flash.saved")
	return redirect(c, "/account")
}

func (h *authHandler) accountPassword(c echo.Context) error {
	u := userOf(c)
	ctx := c.Request().Context()
	if err := h.store.ChangePassword(ctx, u.ID, c.FormValue("old_password"), c.FormValue("new_password")); err != nil {
		if errs, ok := formErrors(err); ok {
			return h.accountInvalid(c, u.Language, errs)
		}
		return err
	}
	// Keep this session alive under the new password; every other session of the user is revoked.
	nu, err := h.store.UserByID(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := h.sessions.RenewToken(ctx); err != nil {
		return err
	}
	h.sessions.Put(ctx, sessStamp, authStamp(&nu))
	h.views.flash(c, "flash.password_changed")
	return redirect(c, "/account")
}

// accountInvalid is the account page with a form's errors.
func (h *authHandler) accountInvalid(c echo.Context, lang string, errs templates.Errors) error {
	p, err := h.accountProps(c, lang)
	if err != nil {
		return err
	}
	p.Errors = errs
	return render(c, http.StatusUnprocessableEntity, templates.Account(p))
}
