package web

import (
	"errors"
	"math"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/models"
	"callrec/templates"
)

func (s *Server) loginPage(c echo.Context) error {
	if userOf(c) != nil {
		return redirect(c, "/")
	}
	return render(c, http.StatusOK, templates.Login(templates.LoginProps{Page: s.page(c, "login.title", "")}))
}

// login checks credentials, rate-limited per client IP and per user name.
func (s *Server) login(c echo.Context) error {
	ctx := c.Request().Context()
	name := strings.TrimSpace(c.FormValue("username"))
	pw := c.FormValue("password")
	keys := []string{"ip:" + c.RealIP(), "user:" + strings.ToLower(name)}
	for _, k := range keys {
		if blocked, left := s.logins.Blocked(k); blocked {
			return render(c, http.StatusTooManyRequests, templates.Login(templates.LoginProps{
				Page: s.page(c, "login.title", ""), Username: name,
				Error: "login.rate_limited", Wait: int(math.Ceil(left.Minutes())),
			}))
		}
	}
	u, err := s.store.Authenticate(ctx, name, pw)
	if err != nil {
		if !errors.Is(err, models.ErrInvalidCredentials) {
			return err
		}
		for _, k := range keys {
			s.logins.Fail(k)
		}
		s.log.Warn("login failed", "user", name, "ip", c.RealIP())
		return render(c, http.StatusUnprocessableEntity, templates.Login(templates.LoginProps{
			Page: s.page(c, "login.title", ""), Username: name, Error: "login.invalid",
		}))
	}
	for _, k := range keys {
		s.logins.Reset(k)
	}
	// A new token on login defeats session fixation.
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, sessUser, int64(u.ID))
	s.sessions.Put(ctx, sessStamp, authStamp(&u))
	s.sessions.Remove(ctx, sessCSRF)
	s.flash(c, "flash.logged_in")
	return redirect(c, "/")
}

func (s *Server) logout(c echo.Context) error {
	if err := s.sessions.Destroy(c.Request().Context()); err != nil {
		return err
	}
	return redirect(c, "/login")
}

// setLanguage switches the UI language from the footer menu: stored on the user when logged in,
// in the session before.
func (s *Server) setLanguage(c echo.Context) error {
	lang := c.FormValue("language")
	if !i18n.Supported(lang) {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "error.language_invalid")
	}
	if u := userOf(c); u != nil {
		if err := s.store.SetUserLanguage(c.Request().Context(), u.ID, lang); err != nil {
			return err
		}
	} else {
		s.sessions.Put(c.Request().Context(), sessLang, lang)
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

func (s *Server) accountPage(c echo.Context) error {
	u := userOf(c)
	return render(c, http.StatusOK, templates.Account(templates.AccountProps{Page: s.page(c, "account.title", "account"), Language: u.Language}))
}

func (s *Server) accountLanguage(c echo.Context) error {
	u := userOf(c)
	lang := c.FormValue("language")
	if err := s.store.SetUserLanguage(c.Request().Context(), u.ID, lang); err != nil {
		if errs, ok := formErrors(err); ok {
			return render(c, http.StatusUnprocessableEntity, templates.Account(templates.AccountProps{Page: s.page(c, "account.title", "account"), Language: lang, Errors: errs}))
		}
		return err
	}
	s.flash(c, "flash.saved")
	return redirect(c, "/account")
}

func (s *Server) accountPassword(c echo.Context) error {
	u := userOf(c)
	ctx := c.Request().Context()
	if err := s.store.ChangePassword(ctx, u.ID, c.FormValue("old_password"), c.FormValue("new_password")); err != nil {
		if errs, ok := formErrors(err); ok {
			return render(c, http.StatusUnprocessableEntity, templates.Account(templates.AccountProps{Page: s.page(c, "account.title", "account"), Language: u.Language, Errors: errs}))
		}
		return err
	}
	// Keep this session alive under the new password; every other session of the user is revoked.
	nu, err := s.store.UserByID(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, sessStamp, authStamp(&nu))
	s.flash(c, "flash.password_changed")
	return redirect(c, "/account")
}
