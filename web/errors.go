package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/media"
	"callrec/media/audio"
	"callrec/models"
	"callrec/templates"
)

// Every error answers through one table, models' declared errors (models/errors.go): a code,
// a status and an i18n key each. Handlers return errors as they come; handleError turns them
// into the localized error page or, under /api/, into {"error":{"code","message"}} with the
// message in English. Forms show a ValidationError beside its fields instead (formErrors).

// declaredOf is the declared error err answers as, the status to send (Echo's 405 keeps its
// own) and a detail for the API's message: the error itself or what it wraps, a
// ValidationError's first field, the engine's refusals, an audio file's problem, and what Echo
// and net/http answer (unknown route, body too large). Anything else is ErrInternal.
func declaredOf(err error) (e *models.Error, status int, detail string) {
	var ve models.ValidationError
	var ae *audio.Error
	var he *echo.HTTPError
	var d interface{ Detail() string }
	if errors.As(err, &d) {
		detail = d.Detail()
	}
	switch {
	case errors.As(err, &e):
	case errors.As(err, &ve) && len(ve) > 0:
		e, detail = ve[0].Err, "field "+ve[0].Field
	case isTooLarge(err):
		e = models.ErrTooLarge
	case errors.As(err, &ae):
		e, detail = audioErrors[ae.Code], ae.Detail
	case errors.Is(err, audio.ErrNoSpeechEngine):
		e = models.ErrNoSpeechEngine
	case errors.As(err, &he):
		e = ofStatus(he.Code)
		return e, he.Code, ""
	default:
		e = engineRefusal(err)
	}
	if e == nil {
		e = models.ErrInternal
	}
	return e, e.Status, detail
}

// engineErrors are the engine's refusals to start or stop recording a call.
var engineErrors = map[error]*models.Error{
	media.ErrCallerObjected:     models.ErrCallerObjected,
	media.ErrRecordingNotBooked: models.ErrRecordingNotBooked,
	media.ErrCalleeInterrupted:  models.ErrCalleeInterrupted,
	media.ErrNoSuchCall:         models.ErrCallEnded,
}

// engineRefusal is the declared error of the engine's refusal in err, or nil.
func engineRefusal(err error) *models.Error {
	for me, de := range engineErrors {
		if errors.Is(err, me) {
			return de
		}
	}
	return nil
}

// audioErrors are the declared errors of media/audio's codes.
var audioErrors = func() map[string]*models.Error {
	m := map[string]*models.Error{}
	for _, e := range models.Declared() {
		m[e.Code] = e
	}
	out := map[string]*models.Error{}
	for _, c := range audio.ErrorCodes {
		out[c] = m[c] // TestAudioErrorsDeclared: none is missing
	}
	return out
}()

// ofStatus is the declared error of a status Echo or net/http answered with by itself.
func ofStatus(status int) *models.Error {
	switch status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return models.ErrNotFound
	case http.StatusForbidden:
		return models.ErrForbidden
	case http.StatusRequestEntityTooLarge:
		return models.ErrTooLarge
	case http.StatusTooManyRequests:
		return models.ErrRateLimited
	case http.StatusUnauthorized:
		return models.ErrUnauthorized
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType:
		return models.ErrBadRequest
	case http.StatusServiceUnavailable:
		return models.ErrUnavailable
	}
	return models.ErrInternal
}

// apiMessage is the API's message of e: its English text, with the detail in brackets.
func apiMessage(e *models.Error, detail string) string {
	msg := i18n.TL("en", e.Key)
	if detail != "" {
		msg += " (" + detail + ")"
	}
	return msg
}

// isAPI tells the API's requests from the pages'.
func isAPI(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, "/api/") }

// handleError answers every error: JSON under /api/, a localized page elsewhere.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed || errors.Is(err, context.Canceled) { // nobody left to answer
		return
	}
	if s.store.Unavailable(err) {
		// The database is away (restarting, unreachable): calls go on in the engine; pages and
		// the API say so and when to come back. A request stopped before the language
		// middleware (at its session or user) is answered in the browser's language.
		s.log.Warn("database unavailable", "path", c.Request().URL.Path, "err", err)
		c.Response().Header().Set("Retry-After", "5")
		if l := i18n.FromAcceptLanguage(c.Request().Header.Get("Accept-Language")); l != "" && userOf(c) == nil {
			setCtx(c, i18n.WithLang(c.Request().Context(), l))
		}
		err = models.ErrDatabaseUnavailable
	}
	e, status, detail := declaredOf(err)
	if e == models.ErrInternal { // the declared 5xx (no engine, no speech engine) are states, not failures
		s.log.Error("request failed", "path", c.Request().URL.Path, "err", err)
	}
	if isAPI(c) {
		_ = c.JSON(status, map[string]any{"error": map[string]string{"code": e.Code, "message": apiMessage(e, detail)}})
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	ctx := c.Request().Context()
	p := templates.Page{Title: i18n.T(ctx, ofStatus(status).Key), User: userOf(c)}
	if p.User != nil {
		p.Nav = navFor(models.ActorOf(*p.User))
		p.CSRF = s.views.csrfToken(c)
	}
	if err := render(c, status, templates.ErrorPage(p, status, e.Key)); err != nil {
		s.log.Error("render error page", "err", err)
	}
}

// formErrors turns a store's validation error into the view's field errors (an i18n key per
// field); other errors pass.
func formErrors(err error) (templates.Errors, bool) {
	var ve models.ValidationError
	if !errors.As(err, &ve) {
		return nil, false
	}
	errs := templates.Errors{}
	for _, f := range ve {
		if errs[f.Field] == "" {
			errs[f.Field] = f.Err.Key
		}
	}
	return errs, true
}
