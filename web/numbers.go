package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/templates"
)

// numbersHandler is the platform's numbers: the ranges the platform admin assigns to customers,
// the blocked destinations and a customer's allowed ones (pages and API). The store enforces
// them when pools are saved.
type numbersHandler struct {
	store *models.Store
	views views
}

// decodeJSON reads a JSON object body into v, refusing unknown fields.
func decodeJSON(c echo.Context, v any, what string) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if isTooLarge(err) {
			return models.ErrTooLarge
		}
		return models.ErrBadRequest.With("the body must be a JSON object: " + what)
	}
	return nil
}

// ruleText is a rule list as its text area shows it.
func ruleText(rs []models.DestinationRule) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Prefix)
		if r.Note != "" {
			b.WriteString(" # " + r.Note)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func rangeRows(rs []models.NumberRange) []templates.RangeRow {
	out := make([]templates.RangeRow, len(rs))
	for i, r := range rs {
		out[i] = templates.RangeRow{ID: r.ID, Range: r.String()}
	}
	return out
}

// customerNumbers renders a customer's numbers page; form carries what was typed and its errors.
func (h *numbersHandler) customerNumbers(c echo.Context, status int, form templates.CustomerNumbersProps) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	cu, err := h.store.Customer(ctx, a, id)
	if err != nil {
		return err
	}
	rs, err := h.store.NumberRanges(ctx, a, cu.ID)
	if err != nil {
		return err
	}
	if form.Allowed == "" && !form.Errors.Has("allowed") {
		allowed, err := h.store.DestinationRules(ctx, a, cu.ID)
		if err != nil {
			return err
		}
		form.Allowed = ruleText(allowed)
	}
	form.Page = h.views.page(c, "ranges.title", "customers")
	form.Page.Title += ": " + cu.Name
	form.Base = "/admin/customers/" + strconv.Itoa(int(cu.ID))
	form.Ranges = rangeRows(rs)
	return render(c, status, templates.CustomerNumbers(form))
}

func (h *numbersHandler) numbersPage(c echo.Context) error {
	return h.customerNumbers(c, http.StatusOK, templates.CustomerNumbersProps{})
}

func (h *numbersHandler) rangeAdd(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	in := models.RangeInput{From: c.FormValue("from"), To: c.FormValue("to"), IP: c.RealIP()}
	if _, err := h.store.AssignRange(c.Request().Context(), actorOf(c), id, in); err != nil {
		errs, ok := formErrors(err)
		if !ok {
			return err
		}
		return h.customerNumbers(c, http.StatusUnprocessableEntity, templates.CustomerNumbersProps{From: in.From, To: in.To, Errors: errs})
	}
	h.views.flash(c, "flash.range_added")
	return redirect(c, "/admin/customers/"+strconv.Itoa(int(id))+"/numbers")
}

func (h *numbersHandler) rangeRemove(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	rid, err := idParam(c, "rid")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	a := actorOf(c)
	rs, err := h.store.NumberRanges(ctx, a, id)
	if err != nil {
		return err
	}
	if !hasRange(rs, rid) { // the range of another customer, under this customer's path
		return models.ErrNotFound
	}
	if _, err := h.store.RemoveRange(ctx, a, c.RealIP(), rid); err != nil {
		return err
	}
	h.views.flash(c, "flash.range_removed")
	return redirect(c, "/admin/customers/"+strconv.Itoa(int(id))+"/numbers")
}

func hasRange(rs []models.NumberRange, id uint) bool {
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}

func (h *numbersHandler) allowedSave(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	text := c.FormValue("allowed")
	if _, err := h.store.SetDestinationRules(c.Request().Context(), actorOf(c), c.RealIP(), id, models.ParseRuleList(text)); err != nil {
		if e, _, _ := declaredOf(err); e == models.ErrPrefixInvalid {
			return h.customerNumbers(c, http.StatusUnprocessableEntity, templates.CustomerNumbersProps{Allowed: text,
				Errors: templates.Errors{"allowed": e.Key}})
		}
		return err
	}
	h.views.flash(c, "flash.destinations_saved")
	return redirect(c, "/admin/customers/"+strconv.Itoa(int(id))+"/numbers")
}

// destinations renders the blocked list's page with the pools it holds back.
func (h *numbersHandler) destinations(c echo.Context, status int, p templates.DestinationsProps) error {
	held, err := h.store.PoolsWithBlockedDestinations(c.Request().Context(), actorOf(c))
	if err != nil {
		return err
	}
	for _, pool := range held {
		hp := templates.HeldPool{ID: pool.ID, Name: pool.Name, Destination: pool.Destination}
		if pool.Customer != nil {
			hp.Customer = pool.Customer.Name
		}
		p.Held = append(p.Held, hp)
	}
	p.Page = h.views.page(c, "destinations.title", "destinations")
	return render(c, status, templates.Destinations(p))
}

func (h *numbersHandler) destinationsPage(c echo.Context) error {
	rs, err := h.store.DestinationRules(c.Request().Context(), actorOf(c), 0)
	if err != nil {
		return err
	}
	return h.destinations(c, http.StatusOK, templates.DestinationsProps{Blocked: ruleText(rs)})
}

func (h *numbersHandler) destinationsSave(c echo.Context) error {
	text := c.FormValue("blocked")
	if _, err := h.store.SetDestinationRules(c.Request().Context(), actorOf(c), c.RealIP(), 0, models.ParseRuleList(text)); err != nil {
		if e, _, _ := declaredOf(err); e == models.ErrPrefixInvalid {
			return h.destinations(c, http.StatusUnprocessableEntity, templates.DestinationsProps{Blocked: text, Errors: templates.Errors{"blocked": e.Key}})
		}
		return err
	}
	h.views.flash(c, "flash.destinations_saved")
	return redirect(c, "/admin/destinations")
}

// The API.

type rangeJSON struct {
	ID         uint   `json:"id"`
	CustomerID uint   `json:"customer_id"`
	Prefix     string `json:"prefix,omitempty"`
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
}

func toRangeJSON(r models.NumberRange) rangeJSON {
	if r.IsPrefix() {
		return rangeJSON{ID: r.ID, CustomerID: r.CustomerID, Prefix: r.FirstNumber}
	}
	return rangeJSON{ID: r.ID, CustomerID: r.CustomerID, From: r.FirstNumber, To: r.LastNumber}
}

// apiRanges lists ranges: a customer admin their own, the platform admin all or ?customer=ID's.
func (h *numbersHandler) apiRanges(c echo.Context) error {
	cid, err := apiCustomer(c, h.store, false)
	if err != nil {
		return err
	}
	rs, err := h.store.NumberRanges(c.Request().Context(), actorOf(c), cid)
	if err != nil {
		return err
	}
	out := make([]rangeJSON, len(rs))
	for i, r := range rs {
		out[i] = toRangeJSON(r)
	}
	return c.JSON(http.StatusOK, map[string]any{"ranges": out})
}

// apiRangeAdd assigns {"prefix"} or {"from","to"} to ?customer=ID.
func (h *numbersHandler) apiRangeAdd(c echo.Context) error {
	cid, err := apiCustomer(c, h.store, true)
	if err != nil {
		return err
	}
	var in struct {
		Prefix string `json:"prefix"`
		From   string `json:"from"`
		To     string `json:"to"`
	}
	if err := decodeJSON(c, &in, "prefix, or from and to"); err != nil {
		return err
	}
	ri := models.RangeInput{From: in.From, To: in.To, IP: c.RealIP()}
	switch {
	case in.Prefix != "" && (in.From != "" || in.To != ""):
		return models.ErrBadRequest.With("either prefix, or from and to")
	case in.Prefix != "":
		ri.From = in.Prefix
	case in.To == "":
		return models.ValidationError{{Field: "to", Err: models.ErrRequired}}
	}
	r, err := h.store.AssignRange(c.Request().Context(), actorOf(c), cid, ri)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toRangeJSON(r))
}

func (h *numbersHandler) apiRangeRemove(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := h.store.RemoveRange(c.Request().Context(), actorOf(c), c.RealIP(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type ruleJSON struct {
	Prefix string `json:"prefix"`
	Note   string `json:"note,omitempty"`
}

func rulesJSON(rs []models.DestinationRule) map[string]any {
	out := make([]ruleJSON, len(rs))
	for i, r := range rs {
		out[i] = ruleJSON{Prefix: r.Prefix, Note: r.Note}
	}
	return map[string]any{"rules": out}
}

// apiDestinationRules is the blocked list, or with ?customer=ID that customer's allowed list (a
// customer admin reads the blocked list and their own allowed one).
func (h *numbersHandler) apiDestinationRules(c echo.Context) error {
	cid, err := customerParam(c)
	if err != nil {
		return err
	}
	rs, err := h.store.DestinationRules(c.Request().Context(), actorOf(c), cid)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rulesJSON(rs))
}

// apiDestinationRulesPut replaces the blocked list, or with ?customer=ID that customer's allowed
// list: {"rules":[{"prefix":"0900","note":"..."}]}.
func (h *numbersHandler) apiDestinationRulesPut(c echo.Context) error {
	cid, err := customerParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Rules []ruleJSON `json:"rules"`
	}
	if err := decodeJSON(c, &in, `{"rules":[{"prefix":"...","note":"..."}]}`); err != nil {
		return err
	}
	rules := make([]models.DestinationRule, len(in.Rules))
	for i, r := range in.Rules {
		rules[i] = models.DestinationRule{Prefix: r.Prefix, Note: r.Note}
	}
	rs, err := h.store.SetDestinationRules(c.Request().Context(), actorOf(c), c.RealIP(), cid, rules)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rulesJSON(rs))
}
