// Package templates holds the Control Panel's views. Each page takes one Props struct shaped like
// what it shows; components never query. The language travels in the context (i18n.T(ctx, ...)).
package templates

import (
	"context"
	"net/url"
	"strings"
	"time"

	"callrec/i18n"
	"callrec/models"
)

// NavItem is one entry of the main navigation.
type NavItem struct {
	ID   string // matches Page.Active; also the data-testid suffix
	Href string
	Key  string // i18n message ID
}

// Page is what every page's layout needs.
type Page struct {
	Title  string // already translated
	Active string // ID of the active NavItem
	User   *models.User
	CSRF   string
	Nav    []NavItem
	Flash  string // i18n key of a one-time success message
}

// Errors maps form field names to i18n message IDs.
type Errors map[string]string

// Has reports whether field has an error.
func (e Errors) Has(field string) bool { return e[field] != "" }

// Msg translates the error of field, or "".
func (e Errors) Msg(ctx context.Context, field string) string {
	if e[field] == "" {
		return ""
	}
	return i18n.T(ctx, e[field])
}

func t(ctx context.Context, id string) string { return i18n.T(ctx, id) }

func tData(ctx context.Context, id string, data map[string]any) string { return i18n.T(ctx, id, data) }

func langName(l string) string {
	switch l {
	case "de":
		return "Deutsch"
	case "en":
		return "English"
	case "fr":
		return "Français"
	}
	return l
}

func roleKey(r models.Role) string { return "role." + string(r) }

// errID is the id of a field's error message, for aria-describedby.
func errID(field string) string { return "err-" + field }

func csrfHeader(token string) string {
	if token == "" {
		return ""
	}
	return `{"X-CSRF-Token": "` + token + `"}`
}

// withCSRF is a multipart form's action with the session's CSRF token in the query: the server
// reads no multipart body before the token is checked, and a form without script has no other
// way to send it (web's gate.csrf).
func withCSRF(action, token string) string {
	if token == "" {
		return action
	}
	sep := "?"
	if strings.Contains(action, "?") {
		sep = "&"
	}
	return action + sep + "_csrf=" + url.QueryEscape(token)
}

// timeZones offers the common choices; any IANA name is accepted.
var timeZones = []string{"Europe/Berlin", "Europe/Vienna", "Europe/Zurich", "Europe/Paris", "Europe/London",
	"Europe/Amsterdam", "Europe/Brussels", "Europe/Luxembourg", "Europe/Madrid", "Europe/Rome", "UTC", "America/New_York"}

// money, dateTime, size and hertz write values as the context's language does (i18n/format.go).
func money(ctx context.Context, cents int64, currency string) string {
	return i18n.Money(i18n.Lang(ctx), cents, currency)
}

func dateTime(ctx context.Context, t time.Time) string { return i18n.DateTime(i18n.Lang(ctx), t) }

func size(ctx context.Context, n int64) string { return i18n.Size(i18n.Lang(ctx), n) }

func hertz(ctx context.Context, hz int) string { return i18n.Hertz(i18n.Lang(ctx), hz) }
