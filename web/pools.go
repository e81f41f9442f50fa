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
		Numbers: p.NumberList(), Destination: p.Destination, CreatedAt: p.CreatedAt}
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
	if _, err := h.poolCustomer(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.PoolForm(templates.PoolFormProps{Page: h.views.page(c, "pools.new", "pools")}))
}

func poolInput(c echo.Context) models.PoolInput {
	return models.PoolInput{
		Name: c.FormValue("name"), StartNumber: c.FormValue("start_number"),
		Destination: c.FormValue("destination"), Numbers: models.ParseNumbers(c.FormValue("numbers")),
	}
}

func (h *poolsHandler) poolFormError(c echo.Context, title string, id uint, err error) error {
	errs, ok := formErrors(err)
	if !ok {
		return err
	}
	return render(c, http.StatusUnprocessableEntity, templates.PoolForm(templates.PoolFormProps{
		Page: h.views.page(c, title, "pools"), PoolID: id, Name: c.FormValue("name"), Start: c.FormValue("start_number"),
		Dest: c.FormValue("destination"), Numbers: c.FormValue("numbers"), Errors: errs,
	}))
}

func (h *poolsHandler) poolCreate(c echo.Context) error {
	cid, err := h.poolCustomer(c)
	if err != nil {
		return err
	}
	p, err := h.store.CreatePool(c.Request().Context(), actorOf(c), cid, poolInput(c))
	if err != nil {
		return h.poolFormError(c, "pools.new", 0, err)
	}
	h.views.flash(c, "flash.saved")
	return redirect(c, "/pools/"+strconv.Itoa(int(p.ID)))
}

func (h *poolsHandler) poolEdit(c echo.Context) error {
	p, err := poolParam(c, h.store)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.PoolForm(templates.PoolFormProps{
		Page: h.views.page(c, "pools.edit", "pools"), PoolID: p.ID, Name: p.Name, Start: p.StartNumber,
		Dest: p.Destination, Numbers: strings.Join(p.NumberList(), "\n"),
	}))
}

func (h *poolsHandler) poolUpdate(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := h.store.UpdatePool(c.Request().Context(), actorOf(c), id, poolInput(c)); err != nil {
		return h.poolFormError(c, "pools.edit", id, err)
	}
	h.views.flash(c, "flash.saved")
	return redirect(c, "/pools/"+strconv.Itoa(int(id)))
}
