package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/templates"
)

// poolsHandler is the number pools' pages and API.
type poolsHandler struct {
	store *models.Store
	views views
	// modules add the booked modules' sections to a pool's page, in this order.
	modules []poolSection
}

// poolSection is one module's sections of a pool's page (none when it does not apply).
type poolSection func(c echo.Context, p models.Pool) ([]templ.Component, error)

type poolJSON struct {
	ID          uint      `json:"id"`
	CustomerID  uint      `json:"customer_id"`
	Name        string    `json:"name"`
	StartNumber string    `json:"start_number"`
	Numbers     []string  `json:"numbers"`
	Destination string    `json:"destination"`
	MaxCalls    int       `json:"max_calls"` // concurrent calls at most; 0: the engine's default
	CreatedAt   time.Time `json:"created_at"`
}

// shownPool is p as a sees it: the destination masked for those who do not see destinations.
func shownPool(p models.Pool, a models.Actor) models.Pool {
	if !a.SeesDestinations() {
		p.Destination = models.MaskNumber(p.Destination)
	}
	return p
}

func toPoolJSON(p models.Pool) poolJSON {
	return poolJSON{ID: p.ID, CustomerID: p.CustomerID, Name: p.Name, StartNumber: p.StartNumber,
		Numbers: p.NumberList(), Destination: p.Destination, MaxCalls: p.MaxCalls, CreatedAt: p.CreatedAt}
}

func (h *poolsHandler) apiPools(c echo.Context) error {
	ps, err := h.store.Pools(c.Request().Context(), actorOf(c))
	if err != nil {
		return err
	}
	out := make([]poolJSON, len(ps))
	for i, p := range ps {
		out[i] = toPoolJSON(shownPool(p, actorOf(c)))
	}
	return c.JSON(http.StatusOK, map[string]any{"pools": out})
}

func (h *poolsHandler) apiPool(c echo.Context) error {
	p, err := poolParam(c, h.store)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPoolJSON(shownPool(p, actorOf(c))))
}

func (h *poolsHandler) poolsPage(c echo.Context) error {
	a := actorOf(c)
	pools, err := h.store.Pools(c.Request().Context(), a)
	if err != nil {
		return err
	}
	for i := range pools {
		pools[i] = shownPool(pools[i], a)
	}
	return render(c, http.StatusOK, templates.Pools(templates.PoolsProps{
		Page: h.views.page(c, "pools.title", "pools"), Pools: pools, CanEdit: a.IsAdmin(), ShowCust: a.IsPlatformAdmin(),
	}))
}

func (h *poolsHandler) poolPage(c echo.Context) error {
	p, err := poolParam(c, h.store)
	if err != nil {
		return err
	}
	return h.showPool(c, p, http.StatusOK)
}

// showPool renders p's page with every module's sections.
func (h *poolsHandler) showPool(c echo.Context, p models.Pool, status int) error {
	var ext []templ.Component
	for _, m := range h.modules {
		sections, err := m(c, p)
		if err != nil {
			return err
		}
		ext = append(ext, sections...)
	}
	return render(c, status, templates.PoolDetail(templates.PoolProps{
		Page: h.views.page(c, "pools.detail", "pools"), Pool: shownPool(p, actorOf(c)), CanEdit: actorOf(c).IsAdmin(), Extended: ext,
	}))
}

// poolCustomer is the customer a new pool belongs to: the admin's own, or for the platform admin
// the one named by the "customer" parameter.
func (h *poolsHandler) poolCustomer(c echo.Context) (uint, error) {
	a := actorOf(c)
	if !a.IsPlatformAdmin() {
		return a.CustomerID, nil
	}
	n, err := strconv.ParseUint(c.QueryParam("customer"), 10, 32)
	if err != nil {
		return 0, models.ErrNotFound
	}
	cu, err := h.store.Customer(c.Request().Context(), a, uint(n))
	if err != nil {
		return 0, err
	}
	return cu.ID, nil
}

func (h *poolsHandler) poolNew(c echo.Context) error {
	cid, err := h.poolCustomer(c)
	if err != nil {
		return err
	}
	p, err := h.formProps(c, "pools.new", cid, templates.PoolFormProps{})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.PoolForm(p))
}

// formProps completes a pool form's props with what every pool form shows: the customer's number
// ranges, and the call cap for the platform admin.
func (h *poolsHandler) formProps(c echo.Context, title string, customerID uint, p templates.PoolFormProps) (templates.PoolFormProps, error) {
	a := actorOf(c)
	rs, err := h.store.NumberRanges(c.Request().Context(), a, customerID)
	if err != nil {
		return p, err
	}
	p.Page = h.views.page(c, title, "pools")
	p.Ranges = nil
	for _, r := range rs {
		p.Ranges = append(p.Ranges, r.String())
	}
	p.ShowMaxCalls = a.IsPlatformAdmin()
	return p, nil
}

// poolInput reads the pool form; max_calls counts only when the form has it (the platform
// admin's).
func poolInput(c echo.Context) (models.PoolInput, error) {
	in := models.PoolInput{
		Name: c.FormValue("name"), StartNumber: c.FormValue("start_number"),
		Destination: c.FormValue("destination"), Numbers: models.ParseNumbers(c.FormValue("numbers")),
	}
	if v := strings.TrimSpace(c.FormValue("max_calls")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return in, models.ValidationError{{Field: "max_calls", Err: models.ErrMaxCallsInvalid}}
		}
		in.MaxCalls = &n
	}
	return in, nil
}

func (h *poolsHandler) poolFormError(c echo.Context, title string, id, customerID uint, err error) error {
	errs, ok := formErrors(err)
	if !ok {
		return err
	}
	p, perr := h.formProps(c, title, customerID, templates.PoolFormProps{PoolID: id, Name: c.FormValue("name"),
		Start: c.FormValue("start_number"), Dest: c.FormValue("destination"), Numbers: c.FormValue("numbers"),
		MaxCalls: c.FormValue("max_calls"), Errors: errs})
	if perr != nil {
		return perr
	}
	return render(c, http.StatusUnprocessableEntity, templates.PoolForm(p))
}

func (h *poolsHandler) poolCreate(c echo.Context) error {
	cid, err := h.poolCustomer(c)
	if err != nil {
		return err
	}
	in, err := poolInput(c)
	if err != nil {
		return h.poolFormError(c, "pools.new", 0, cid, err)
	}
	p, err := h.store.CreatePool(c.Request().Context(), actorOf(c), cid, in)
	if err != nil {
		return h.poolFormError(c, "pools.new", 0, cid, err)
	}
	h.views.flash(c, "flash.saved")
	return redirect(c, "/pools/"+strconv.Itoa(int(p.ID)))
}

func (h *poolsHandler) poolEdit(c echo.Context) error {
	p, err := poolParam(c, h.store)
	if err != nil {
		return err
	}
	props, err := h.formProps(c, "pools.edit", p.CustomerID, templates.PoolFormProps{PoolID: p.ID, Name: p.Name,
		Start: p.StartNumber, Dest: p.Destination, Numbers: strings.Join(p.NumberList(), "\n"), MaxCalls: strconv.Itoa(p.MaxCalls)})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.PoolForm(props))
}

func (h *poolsHandler) poolUpdate(c echo.Context) error {
	p, err := poolParam(c, h.store)
	if err != nil {
		return err
	}
	in, err := poolInput(c)
	if err == nil {
		_, err = h.store.UpdatePool(c.Request().Context(), actorOf(c), p.ID, in)
	}
	if err != nil {
		return h.poolFormError(c, "pools.edit", p.ID, p.CustomerID, err)
	}
	h.views.flash(c, "flash.saved")
	return redirect(c, "/pools/"+strconv.Itoa(int(p.ID)))
}

// poolBody is a pool as the API takes it (POST a new one, PUT the whole of one).
type poolBody struct {
	Name        *string  `json:"name"`
	StartNumber *string  `json:"start_number"`
	Destination *string  `json:"destination"`
	Numbers     []string `json:"numbers"`
	MaxCalls    *int     `json:"max_calls"` // the platform admin's; absent: unchanged
}

func (b poolBody) input() (models.PoolInput, error) {
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", b.Name}, {"start_number", b.StartNumber}, {"destination", b.Destination}} {
		if f.v == nil {
			return models.PoolInput{}, models.ValidationError{{Field: f.name, Err: models.ErrRequired}}
		}
	}
	return models.PoolInput{Name: *b.Name, StartNumber: *b.StartNumber, Destination: *b.Destination,
		Numbers: models.ParseNumbers(strings.Join(b.Numbers, "\n")), MaxCalls: b.MaxCalls}, nil
}

// apiPoolCreate makes a pool for the caller's customer (the platform admin names one with
// ?customer=ID); its numbers must come from the customer's ranges.
func (h *poolsHandler) apiPoolCreate(c echo.Context) error {
	cid, err := apiCustomer(c, h.store, true)
	if err != nil {
		return err
	}
	var b poolBody
	if err := decodeJSON(c, &b, "name, start_number, destination, numbers"); err != nil {
		return err
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	p, err := h.store.CreatePool(c.Request().Context(), actorOf(c), cid, in)
	if err != nil {
		return err
	}
	p, err = h.store.Pool(c.Request().Context(), actorOf(c), p.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toPoolJSON(shownPool(p, actorOf(c))))
}

// apiPoolUpdate replaces a pool's name, numbers and destination.
func (h *poolsHandler) apiPoolUpdate(c echo.Context) error {
	p, err := poolParam(c, h.store)
	if err != nil {
		return err
	}
	var b poolBody
	if err := decodeJSON(c, &b, "name, start_number, destination, numbers"); err != nil {
		return err
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	if _, err := h.store.UpdatePool(c.Request().Context(), actorOf(c), p.ID, in); err != nil {
		return err
	}
	p, err = h.store.Pool(c.Request().Context(), actorOf(c), p.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPoolJSON(shownPool(p, actorOf(c))))
}
