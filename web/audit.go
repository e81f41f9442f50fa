package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
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
	pools, err := h.store.PoolNames(ctx, a)
	if err != nil {
		return err
	}
	paths, callIDs := auditSubjectKeys(pg.Events)
	subj, err := h.store.LookupAuditSubjects(ctx, a, paths, callIDs)
	if err != nil {
		return err
	}
	var customers map[uint]models.Customer
	if p.ShowCustomer {
		if customers, err = h.store.CustomersByID(ctx, a); err != nil {
			return err
		}
	}
	rows := make([]templates.AuditRow, 0, len(pg.Events))
	for _, e := range pg.Events {
		r := templates.AuditRow{ID: e.ID, At: bookingTime(ctx, e.At, loc), User: e.Username, IP: e.IP,
			Kind: e.Kind, KindLabel: auditKindLabel(ctx, e.Kind), Object: e.Object,
			Subject: auditSubject(ctx, e.Object, pools, subj, loc),
			Old:     auditValues(ctx, e.OldValue, loc), New: auditValues(ctx, e.NewValue, loc),
			Customer: strconv.FormatUint(uint64(e.CustomerID), 10)}
		if cu, ok := customers[e.CustomerID]; ok {
			r.Customer = cu.Name
		}
		rows = append(rows, r)
	}
	p.Rows = foldListened(rows)
	q := url.Values{}
	for _, k := range []string{"from", "to", "kind", "customer"} {
		if v := c.QueryParam(k); v != "" {
			q.Set(k, v)
		}
	}
	p.PrevHref, p.NextHref = pageLinks("/audit", q, pg.Page, pg.Pages())
	return render(c, status, templates.AuditLog(p))
}
