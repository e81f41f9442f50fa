package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/media/audio"
	"callrec/models"
	"callrec/templates"
)

// fileError is a problem with a user's file: an HTTP status, a snake_case code (the API's
// error code; "error."+code is its i18n key) and an English detail for the API.
type fileError struct {
	Status int
	Code   string
	Detail string
}

func (e *fileError) Error() string { return e.Code + ": " + e.Detail }

func newFileError(status int, code, detail string) error { return &fileError{status, code, detail} }

// audioFileError turns an audio.Error into a 422 with its code; other errors pass.
func audioFileError(err error) error {
	var ae *audio.Error
	if errors.As(err, &ae) {
		return &fileError{http.StatusUnprocessableEntity, ae.Code, ae.Error()}
	}
	if isTooLarge(err) {
		return &fileError{http.StatusRequestEntityTooLarge, "file_too_large", "the file is larger than the upload limit"}
	}
	return err
}

// asAPI turns a fileError or store error into the API's answer.
func asAPI(err error) error {
	var fe *fileError
	if errors.As(err, &fe) {
		return apiError(fe.Status, fe.Code, fe.Detail)
	}
	if errors.Is(err, models.ErrFileInUse) {
		return apiError(http.StatusConflict, "file_in_use", "the file is chosen for an announcement")
	}
	return apiStoreError(err)
}

// apiNotFound is the API's answer for a missing or foreign object.
func apiNotFound() error { return apiError(http.StatusNotFound, "not_found", "no such object") }

// apiStoreError maps the store's errors to API errors with codes; of several invalid fields the
// first one the store found names the code.
func apiStoreError(err error) error {
	var ve models.ValidationError
	switch {
	case errors.As(err, &ve) && len(ve) > 0:
		return apiError(http.StatusUnprocessableEntity, codeOf(ve[0].Key), "invalid field "+ve[0].Field)
	case errors.Is(err, models.ErrNotFound):
		return apiNotFound()
	case errors.Is(err, models.ErrForbidden):
		return apiError(http.StatusForbidden, "forbidden", "your role may not do this")
	}
	return err
}

func codeOf(key string) string {
	if len(key) > 6 && key[:6] == "error." {
		return key[6:]
	}
	return key
}

// bookingAPIError maps the store's errors; a validation error answers the first invalid field's
// code (fields are checked in a fixed order, so the answer is stable).
func bookingAPIError(err error) error {
	var ve models.ValidationError
	switch {
	case errors.As(err, &ve) && len(ve) > 0:
		return apiError(http.StatusUnprocessableEntity, codeOf(ve[0].Key), i18n.TL("en", ve[0].Key))
	case errors.Is(err, models.ErrNotBooked):
		return apiError(http.StatusConflict, "module_not_booked", "book the module first")
	}
	return apiStoreError(err)
}

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
		p.CSRF = s.views.csrfToken(c)
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
