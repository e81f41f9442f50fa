package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/calls"
	"callrec/i18n"
	"callrec/models"
	"callrec/templates"
)

// callLogHandler is the call log, page and API.
type callLogHandler struct {
	store *models.Store
	views views
	live  *liveHandler // the API's state=active answers from the engine's list
}

// callLogOutcomes are the outcomes the filter offers: every calls.Outcome, in its order.
var callLogOutcomes = func() []string {
	os := make([]string, len(calls.Outcomes))
	for i, o := range calls.Outcomes {
		os[i] = string(o)
	}
	return os
}()

// parseCallFilter reads the call log's filter from the query (dates as YYYY-MM-DD in loc; "to"
// is inclusive). Bad fields come back as form errors.
func parseCallFilter(q url.Values, loc *time.Location) (models.CallFilter, templates.CallLogFilter, templates.Errors) {
	form := templates.CallLogFilter{Pool: q.Get("pool"), From: strings.TrimSpace(q.Get("from")),
		To: strings.TrimSpace(q.Get("to")), Number: strings.TrimSpace(q.Get("number")), Outcome: q.Get("outcome")}
	f := models.CallFilter{Number: form.Number}
	errs := templates.Errors{}
	if n, err := strconv.ParseUint(form.Pool, 10, 32); err == nil {
		f.PoolID = uint(n)
	} else {
		form.Pool = ""
	}
	for _, o := range callLogOutcomes {
		if o == form.Outcome {
			f.Outcome = o
		}
	}
	if f.Outcome == "" {
		form.Outcome = ""
	}
	var err error
	if f.From, err = parseDay(form.From, loc, false); err != nil {
		errs["from"] = models.ErrDateInvalid.Key
	}
	if f.To, err = parseDay(form.To, loc, true); err != nil {
		errs["to"] = models.ErrDateInvalid.Key
	}
	f.Page, _ = strconv.Atoi(q.Get("page"))
	return f, form, errs
}

func (h *callLogHandler) callLogPage(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	loc := userLocation(c)
	q := c.QueryParams()
	f, form, errs := parseCallFilter(q, loc)
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	log, err := h.store.Calls(ctx, a, f)
	if err != nil {
		return err
	}
	v, err := newLiveView(ctx, h.store, a)
	if err != nil {
		return err
	}
	props := templates.CallLogProps{Page: h.views.page(c, "calls.log_title", "calls"), Filter: form, Errors: errs,
		Outcomes: callLogOutcomes, ShowCustomer: a.IsPlatformAdmin(), Total: log.Total, PageNo: log.Page, Pages: log.Pages()}
	for id, name := range v.pools {
		props.Pools = append(props.Pools, templates.PoolOption{ID: id, Name: name})
	}
	sortPoolOptions(props.Pools)
	for _, call := range log.Calls {
		props.Rows = append(props.Rows, v.logRow(call, loc))
	}
	props.PrevURL, props.NextURL = pageLinks("/calls", q, log.Page, log.Pages())
	return render(c, status, templates.CallLogPage(props))
}

func sortPoolOptions(ps []templates.PoolOption) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && (ps[j].Name < ps[j-1].Name || ps[j].Name == ps[j-1].Name && ps[j].ID < ps[j-1].ID); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

func (v liveView) logRow(call models.Call, loc *time.Location) templates.CallLogRow {
	if cu, ok := v.customers[call.CustomerID]; ok {
		loc = cu.Location()
	}
	r := templates.CallLogRow{ID: call.ID, When: i18n.DateTime(v.lang, call.Arrival.In(loc)), Pool: v.pools[call.PoolID],
		A: call.A, B: call.B, C: call.C, Ended: call.Ended != nil, Outcome: "calls.outcome_" + call.Outcome,
		Duration: templates.Duration(call.DurationMS), Recorded: templates.Duration(call.RecordedMS)}
	if cu, ok := v.customers[call.CustomerID]; ok {
		r.Customer = cu.Name
	}
	detail := func(s string) string { return s }
	if !v.actor.SeesDestinations() {
		r.C = models.MaskNumber(call.C)
		detail = func(s string) string { return models.MaskIn(s, call.C) }
	}
	if call.Recording != nil {
		r.HasFile = true
		if v.actor.MayOpenRecordings() { // the File Browser shows the others a 404
			r.RecordingID = call.Recording.FileID
		}
		r.Recorded = templates.Duration(call.Recording.RecordedMS)
	}
	for _, e := range call.Events {
		r.Trail = append(r.Trail, templates.TrailItem{Offset: templates.Duration(e.OffsetMS), Kind: "calls.event_" + e.Kind, By: e.By, Detail: detail(e.Detail)})
	}
	return r
}
