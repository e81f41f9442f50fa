package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/templates"
)

// API tokens: the account page lists, creates and revokes the user's own; a user's page lets an
// admin revoke that user's; the API lists and revokes (GET/DELETE /api/v1/tokens).

type tokenJSON struct {
	ID         uint       `json:"id"`
	UserID     uint       `json:"user_id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// tokenRows is a user's tokens for the page, times in loc.
func tokenRows(ts []models.APIToken, loc *time.Location) []templates.TokenRow {
	rows := make([]templates.TokenRow, len(ts))
	for i, t := range ts {
		rows[i] = templates.TokenRow{ID: t.ID, Name: t.Name, Created: t.CreatedAt.In(loc).Format("2006-01-02 15:04")}
		if t.LastUsedAt != nil {
			rows[i].LastUsed = t.LastUsedAt.In(loc).Format("2006-01-02 15:04")
		}
	}
	return rows
}

// tokensSection is the tokens section of a page about user id.
func tokensSection(c echo.Context, store *models.Store, v views, id uint, revokeBase string) (templates.TokensProps, error) {
	ts, err := store.Tokens(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return templates.TokensProps{}, err
	}
	return templates.TokensProps{CSRF: v.csrfToken(c), Tokens: tokenRows(ts, userLocation(c)), RevokeBase: revokeBase}, nil
}

func (h *authHandler) accountProps(c echo.Context, lang string) (templates.AccountProps, error) {
	u := userOf(c)
	tp, err := tokensSection(c, h.store, h.views, u.ID, "/account/tokens")
	tp.CanCreate = true
	return templates.AccountProps{Page: h.views.page(c, "account.title", "account"), Language: lang, Tokens: tp}, err
}

// accountTokenCreate makes a token for the user's own account and shows it once, on the page
// this POST answers (it is kept nowhere else).
func (h *authHandler) accountTokenCreate(c echo.Context) error {
	tok, _, err := h.store.CreateToken(c.Request().Context(), actorOf(c), c.RealIP(), c.FormValue("name"))
	errs, invalid := formErrors(err)
	if err != nil && !invalid {
		return err
	}
	p, perr := h.accountProps(c, userOf(c).Language)
	if perr != nil {
		return perr
	}
	if invalid {
		p.Tokens.Errors = errs
		return render(c, http.StatusUnprocessableEntity, templates.Account(p))
	}
	p.Tokens.NewToken = tok
	return render(c, http.StatusOK, templates.Account(p))
}

func (h *authHandler) accountTokenRevoke(c echo.Context) error {
	id, err := idParam(c, "tid")
	if err != nil {
		return err
	}
	if _, err := h.store.RevokeToken(c.Request().Context(), actorOf(c), c.RealIP(), userOf(c).ID, id); err != nil {
		return err
	}
	h.views.flash(c, "flash.token_revoked")
	return redirect(c, "/account")
}

// apiTokens lists the caller's tokens; an admin names one of their users with ?user=ID.
func (h *authHandler) apiTokens(c echo.Context) error {
	id := userOf(c).ID
	if v := c.QueryParam("user"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return models.ErrNotFound
		}
		id = uint(n)
	}
	ts, err := h.store.Tokens(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, len(ts))
	for i, t := range ts {
		out[i] = tokenJSON{ID: t.ID, UserID: t.UserID, Name: t.Name, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt}
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": out})
}

// apiTokenRevoke revokes a token of the caller's, or of one of an admin's users; the token the
// request came with may revoke itself.
func (h *authHandler) apiTokenRevoke(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := h.store.RevokeToken(c.Request().Context(), actorOf(c), c.RealIP(), 0, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// userTokenRevoke is an admin revoking a token on the user's page.
func (h *usersHandler) userTokenRevoke(c echo.Context) error {
	u, base, err := h.loadScopedUser(c)
	if err != nil {
		return err
	}
	tid, err := idParam(c, "tid")
	if err != nil {
		return err
	}
	if _, err := h.store.RevokeToken(c.Request().Context(), actorOf(c), c.RealIP(), u.ID, tid); err != nil {
		return err
	}
	h.views.flash(c, "flash.token_revoked")
	return redirect(c, base+"/"+strconv.Itoa(int(u.ID)))
}

// userDelete deletes a user and their tokens.
func (h *usersHandler) userDelete(c echo.Context) error {
	u, base, err := h.loadScopedUser(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteUser(c.Request().Context(), actorOf(c), c.RealIP(), u.ID); err != nil {
		return err
	}
	h.views.flash(c, "flash.user_deleted")
	return redirect(c, base)
}
