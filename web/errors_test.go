package web

import (
	"errors"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/media"
	"callrec/media/audio"
	"callrec/models"
)

// TestErrorTable walks every declared error through a page route and an API route made the way
// the route table makes them: the page answers with the error's status and its message in the
// visitor's language (de, en, fr), the API with the status, the error's code and its English
// message. A ValidationError answers as its first field's error, on both.
func TestErrorTable(t *testing.T) {
	e := newEnv(t)
	cases := []error{}
	for _, d := range models.Declared() {
		cases = append(cases, d)
	}
	validation := models.ValidationError{{Field: "name", Err: models.ErrRequired}, {Field: "numbers", Err: models.ErrNumberTaken}}
	cases = append(cases, validation, models.ErrAudioTooLong.With("11 minutes"))
	answer := func(c echo.Context) error {
		i, _ := strconv.Atoi(c.Param("i"))
		return cases[i]
	}
	for _, r := range []route{get("/test-error/:i", public, answer), get("/api/v1/test-error/:i", loggedIn, answer)} {
		e.web.echo.Add(r.method, r.path, e.web.routeChain(r))
	}
	tok := e.token(e.demo.Admin)
	for i, err := range cases {
		var want *models.Error
		if !errors.As(err, &want) {
			want = validation[0].Err
		}
		for _, lang := range i18n.Languages {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/test-error/"+strconv.Itoa(i), nil)
			req.Header.Set("Accept-Language", lang)
			resp, rerr := http.DefaultClient.Do(req)
			if rerr != nil {
				t.Fatal(rerr)
			}
			body := readAll(resp)
			msg := html.EscapeString(i18n.TL(lang, want.Key))
			if resp.StatusCode != want.Status || !strings.Contains(body, msg) || !strings.Contains(body, `data-testid="error-page"`) {
				t.Errorf("%v, page in %s: %d, want %d with %q", err, lang, resp.StatusCode, want.Status, msg)
			}
		}
		var eb apiErrorBody
		st := e.api(tok, http.MethodGet, "/test-error/"+strconv.Itoa(i), nil, &eb)
		if st != want.Status || eb.Error.Code != want.Code || !strings.HasPrefix(eb.Error.Message, i18n.TL("en", want.Key)) {
			t.Errorf("%v, API: %d %+v, want %d %s %q", err, st, eb, want.Status, want.Code, i18n.TL("en", want.Key))
		}
	}
	var eb apiErrorBody
	e.api(tok, http.MethodGet, "/test-error/"+strconv.Itoa(len(cases)-2), nil, &eb)
	if !strings.HasSuffix(eb.Error.Message, "(field name)") {
		t.Errorf("a validation error's message does not name its field: %q", eb.Error.Message)
	}
	e.api(tok, http.MethodGet, "/test-error/"+strconv.Itoa(len(cases)-1), nil, &eb)
	if !strings.HasSuffix(eb.Error.Message, "(11 minutes)") {
		t.Errorf("a detail is not in the API's message: %q", eb.Error.Message)
	}
}

// readAll is a response's body; it closes it.
func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestErrorKeysTranslated: every declared error's message exists in every language.
func TestErrorKeysTranslated(t *testing.T) {
	if len(models.Declared()) < 20 {
		t.Fatalf("only %d declared errors", len(models.Declared()))
	}
	for _, d := range models.Declared() {
		for _, lang := range i18n.Languages {
			if !i18n.Has(lang, d.Key) {
				t.Errorf("%s: message %s missing in %s", d.Code, d.Key, lang)
			}
		}
		if d.Status < 400 || d.Status > 599 {
			t.Errorf("%s: status %d", d.Code, d.Status)
		}
	}
}

// TestForeignErrorsAnswerAsDeclared: the audio files' problems and the engine's refusals,
// declared elsewhere, answer as declared errors (none as an internal error).
func TestForeignErrorsAnswerAsDeclared(t *testing.T) {
	for _, code := range audio.ErrorCodes {
		e, status, _ := declaredOf(&audio.Error{Code: code, Detail: "x"})
		if e.Code != code || status != http.StatusUnprocessableEntity {
			t.Errorf("audio %s answers as %s %d", code, e.Code, status)
		}
	}
	for _, err := range []error{media.ErrCallerObjected, media.ErrRecordingNotBooked, media.ErrCalleeInterrupted, media.ErrNoSuchCall,
		audio.ErrNoSpeechEngine, &http.MaxBytesError{Limit: 1}, echo.ErrNotFound, echo.ErrMethodNotAllowed} {
		if e, _, _ := declaredOf(err); e == models.ErrInternal {
			t.Errorf("%v answers as an internal error", err)
		}
	}
	if e, _, _ := declaredOf(errors.New("disk on fire")); e != models.ErrInternal {
		t.Errorf("an unknown error answers as %s", e.Code)
	}
}
