package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/models"
	"callrec/templates"
)

// auditHandler is the audit log: page, CSV export and API.
type auditHandler struct {
	store *models.Store
	views views
	log   *slog.Logger
}

// auditLocation is the time zone audit dates are read and shown in: the customer's (for the
// platform admin without a customer, Europe/Berlin).
func (h *auditHandler) auditLocation(c echo.Context, customerID uint) (*time.Location, error) {
	if customerID == 0 {
		return userLocation(c), nil
	}
	cu, err := h.store.Customer(c.Request().Context(), actorOf(c), customerID)
	if err != nil {
		return nil, err
	}
	return cu.Location(), nil
}

// auditFilter is the audit log's filter for customer cid (0: every customer the actor sees)
// from the query: kind, and from and to, days in the customer's time zone (to inclusive) or
// RFC 3339 times; bad lists the bounds that are neither. The page, its CSV export and the API
// read it alike.
func (h *auditHandler) auditFilter(c echo.Context, cid uint) (f models.AuditFilter, loc *time.Location, bad []string, err error) {
	if loc, err = h.auditLocation(c, cid); err != nil {
		return f, nil, nil, err
	}
	f = models.AuditFilter{CustomerID: cid, Kind: c.QueryParam("kind")}
	var perr error
	if f.From, perr = parseTime(c.QueryParam("from"), loc, false); perr != nil {
		bad = append(bad, "from")
	}
	if f.To, perr = parseTime(c.QueryParam("to"), loc, true); perr != nil {
		bad = append(bad, "to")
	}
	return f, loc, bad, nil
}

// auditKindLabel names a kind in the UI language; kinds without a label show as they are.
func auditKindLabel(ctx context.Context, kind string) string {
	if i18n.Has(i18n.Lang(ctx), "audit.kind."+kind) {
		return i18n.T(ctx, "audit.kind."+kind)
	}
	return kind
}

// auditFields shows a stored value: a JSON object as sorted "key: value" lines (times in the
// customer's zone), anything else as it is.
func auditFields(ctx context.Context, v string, loc *time.Location) []templates.AuditField {
	if v == "" {
		return nil
	}
	var m map[string]any
	if json.Unmarshal([]byte(v), &m) != nil {
		return []templates.AuditField{{Value: v}}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]templates.AuditField, 0, len(keys))
	for _, k := range keys {
		var val string
		switch x := m[k].(type) {
		case string:
			val = x
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				val = bookingTime(ctx, t, loc)
			}
		default:
			b, _ := json.Marshal(x)
			val = string(b)
		}
		out = append(out, templates.AuditField{Key: k, Value: val})
	}
	return out
}

func (h *auditHandler) auditPage(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	var cid uint
	if a.IsPlatformAdmin() {
		cid = queryCustomer(c)
	}
	f, loc, bad, err := h.auditFilter(c, cid)
	if err != nil {
		return err
	}
	p := templates.AuditProps{Page: h.views.page(c, "audit.title", "audit"), From: c.QueryParam("from"), To: c.QueryParam("to"),
		Kind: f.Kind, ShowCustomer: a.IsPlatformAdmin() && cid == 0, Errors: templates.Errors{}}
	for _, b := range bad {
		p.Errors[b] = models.ErrDateInvalid.Key
	}
	kinds, err := h.store.AuditKinds(ctx, a, cid)
	if err != nil {
		return err
	}
	for _, k := range kinds {
		p.Kinds = append(p.Kinds, templates.AuditKind{Kind: k, Label: auditKindLabel(ctx, k)})
	}
	status := http.StatusOK
	if len(p.Errors) > 0 {
		status = http.StatusUnprocessableEntity
		p.PageNo, p.Pages = 1, 1
		return render(c, status, templates.AuditLog(p))
	}
	page, _ := strconv.Atoi(c.QueryParam("page"))
	pg, err := h.store.AuditEvents(ctx, a, f, page, 0)
	if errors.Is(err, models.ErrNotFound) || errors.Is(err, models.ErrForbidden) {
		return err
	}
	if err != nil {
		return err
	}
	p.PageNo, p.Pages, p.Total = pg.Page, pg.Pages(), pg.Total
	for _, e := range pg.Events {
		p.Rows = append(p.Rows, templates.AuditRow{ID: e.ID, At: bookingTime(ctx, e.At, loc), User: e.Username, IP: e.IP,
			Kind: e.Kind, KindLabel: auditKindLabel(ctx, e.Kind), Object: e.Object,
			Old: auditFields(ctx, e.OldValue, loc), New: auditFields(ctx, e.NewValue, loc),
			Customer: e.CustomerID})
	}
	q := url.Values{}
	for _, k := range []string{"from", "to", "kind", "customer"} {
		if v := c.QueryParam(k); v != "" {
			q.Set(k, v)
		}
	}
	p.PrevHref, p.NextHref = pageLinks("/audit", q, pg.Page, pg.Pages())
	return render(c, status, templates.AuditLog(p))
}
