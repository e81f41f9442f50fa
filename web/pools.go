package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/templates"
)

// idParam parses a positive numeric path parameter; anything else is a 404.
func idParam(c echo.Context, name string) (uint, error) {
	n, err := strconv.ParseUint(c.Param(name), 10, 32)
	if err != nil || n == 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "error.not_found")
	}
	return uint(n), nil
}

func (s *Server) poolsPage(c echo.Context) error {
	a := actorOf(c)
	pools, err := s.store.Pools(c.Request().Context(), a)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.Pools(templates.PoolsProps{
		Page: s.page(c, "pools.title", "pools"), Pools: pools, CanEdit: a.IsAdmin(), ShowCust: a.IsPlatformAdmin(),
	}))
}

func (s *Server) poolPage(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	a := actorOf(c)
	p, err := s.store.Pool(c.Request().Context(), a, id)
	if err != nil {
		return storeError(err)
	}
	ext, err := s.extendedRouting(c, p)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.PoolDetail(templates.PoolProps{
		Page: s.page(c, "pools.detail", "pools"), Pool: p, CanEdit: a.IsAdmin(), Extended: ext,
	}))
}

// extendedRouting collects the module sections of a pool's page; each module adds itself here.
func (s *Server) extendedRouting(c echo.Context, p models.Pool) ([]templ.Component, error) {
	return s.withAnnouncements(c, p)(s.bookingModules(c, p, moduleErrors{}))
}

// poolCustomer is the customer a new pool belongs to: the admin's own, or for the platform admin
// the one named by the "customer" parameter.
func (s *Server) poolCustomer(c echo.Context) (uint, error) {
	a := actorOf(c)
	if !a.IsPlatformAdmin() {
		return a.CustomerID, nil
	}
	n, err := strconv.ParseUint(c.QueryParam("customer"), 10, 32)
	if err != nil {
		return 0, echo.NewHTTPError(http.StatusNotFound, "error.not_found")
	}
	cu, err := s.store.Customer(c.Request().Context(), a, uint(n))
	if err != nil {
		return 0, storeError(err)
	}
	return cu.ID, nil
}

func (s *Server) poolNew(c echo.Context) error {
	if _, err := s.poolCustomer(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.PoolForm(templates.PoolFormProps{Page: s.page(c, "pools.new", "pools")}))
}

func poolInput(c echo.Context) models.PoolInput {
	return models.PoolInput{
		Name: c.FormValue("name"), StartNumber: c.FormValue("start_number"),
		Destination: c.FormValue("destination"), Numbers: models.ParseNumbers(c.FormValue("numbers")),
	}
}

func (s *Server) poolFormError(c echo.Context, title string, id uint, err error) error {
	errs, ok := formErrors(err)
	if !ok {
		return storeError(err)
	}
	return render(c, http.StatusUnprocessableEntity, templates.PoolForm(templates.PoolFormProps{
		Page: s.page(c, title, "pools"), PoolID: id, Name: c.FormValue("name"), Start: c.FormValue("start_number"),
		Dest: c.FormValue("destination"), Numbers: c.FormValue("numbers"), Errors: errs,
	}))
}

func (s *Server) poolCreate(c echo.Context) error {
	cid, err := s.poolCustomer(c)
	if err != nil {
		return err
	}
	p, err := s.store.CreatePool(c.Request().Context(), actorOf(c), cid, poolInput(c))
	if err != nil {
		return s.poolFormError(c, "pools.new", 0, err)
	}
	s.flash(c, "flash.saved")
	return redirect(c, "/pools/"+strconv.Itoa(int(p.ID)))
}

func (s *Server) poolEdit(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, err := s.store.Pool(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return storeError(err)
	}
	return render(c, http.StatusOK, templates.PoolForm(templates.PoolFormProps{
		Page: s.page(c, "pools.edit", "pools"), PoolID: p.ID, Name: p.Name, Start: p.StartNumber,
		Dest: p.Destination, Numbers: strings.Join(p.NumberList(), "\n"),
	}))
}

func (s *Server) poolUpdate(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.store.UpdatePool(c.Request().Context(), actorOf(c), id, poolInput(c)); err != nil {
		return s.poolFormError(c, "pools.edit", id, err)
	}
	s.flash(c, "flash.saved")
	return redirect(c, "/pools/"+strconv.Itoa(int(id)))
}
