package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/templates"
)

// customersHandler is the platform admin's customers and prices and a customer admin's own
// customer settings.
type customersHandler struct {
	store *models.Store
	views views
}

func customerInput(c echo.Context) models.CustomerInput {
	return models.CustomerInput{Name: c.FormValue("name"), SubscriberID: c.FormValue("subscriber_id"),
		Language: c.FormValue("language"), TimeZone: c.FormValue("time_zone")}
}

func formOf(cu models.Customer) templates.CustomerFormProps {
	return templates.CustomerFormProps{Name: cu.Name, SubscriberID: cu.SubscriberID, Language: cu.Language, TimeZone: cu.TimeZone}
}

func (h *customersHandler) customersPage(c echo.Context) error {
	return h.renderCustomers(c, http.StatusOK, templates.CustomerFormProps{Language: "de", TimeZone: "Europe/Berlin"})
}

func (h *customersHandler) renderCustomers(c echo.Context, status int, form templates.CustomerFormProps) error {
	cs, err := h.store.Customers(c.Request().Context(), actorOf(c))
	if err != nil {
		return err
	}
	p := h.views.page(c, "customers.title", "customers")
	form.Page, form.Action, form.CanEditSubID, form.WithAdmin = p, "/admin/customers", true, true
	return render(c, status, templates.Customers(templates.CustomersProps{Page: p, Customers: cs, Form: form}))
}

// customerCreate adds a customer with its first customer admin, both or neither.
func (h *customersHandler) customerCreate(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	in := customerInput(c)
	admin := models.UserInput{Username: c.FormValue("admin_username"), Password: c.FormValue("admin_password"), Role: models.RoleCustomerAdmin, CanOpenRecordings: true}
	fail := func(err error) error {
		errs, ok := formErrors(err)
		if !ok {
			return err
		}
		f := templates.CustomerFormProps{Name: in.Name, SubscriberID: in.SubscriberID, Language: in.Language, TimeZone: in.TimeZone, AdminUsername: admin.Username, Errors: errs}
		return h.renderCustomers(c, http.StatusUnprocessableEntity, f)
	}
	cu, err := h.store.CreateCustomerWithAdmin(ctx, a, in, admin)
	if err != nil {
		return fail(err)
	}
	h.views.flash(c, "flash.saved")
	return redirect(c, "/admin/customers/"+strconv.Itoa(int(cu.ID)))
}

func (h *customersHandler) customerPage(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	cu, err := h.store.Customer(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	return h.renderCustomer(c, http.StatusOK, cu, formOf(cu))
}

func (h *customersHandler) renderCustomer(c echo.Context, status int, cu models.Customer, f templates.CustomerFormProps) error {
	p := h.views.page(c, "customers.edit", "customers")
	p.Title = p.Title + ": " + cu.Name
	base := "/admin/customers/" + strconv.Itoa(int(cu.ID))
	f.Page, f.Action, f.CanEditSubID = p, base, true
	return render(c, status, templates.CustomerSettings(templates.CustomerSettingsProps{
		Page: p, Form: f, Users: &templates.UsersLink{Href: base + "/users"}, NewPool: "/pools/new?customer=" + strconv.Itoa(int(cu.ID)),
		Numbers: base + "/numbers",
	}))
}

func (h *customersHandler) customerSave(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cu, err := h.store.Customer(ctx, actorOf(c), id)
	if err != nil {
		return err
	}
	in := customerInput(c)
	if _, err := h.store.UpdateCustomer(ctx, actorOf(c), id, in); err != nil {
		errs, ok := formErrors(err)
		if !ok {
			return err
		}
		return h.renderCustomer(c, http.StatusUnprocessableEntity, cu, templates.CustomerFormProps{
			Name: in.Name, SubscriberID: in.SubscriberID, Language: in.Language, TimeZone: in.TimeZone, Errors: errs})
	}
	h.views.flash(c, "flash.saved")
	return redirect(c, "/admin/customers/"+strconv.Itoa(int(id)))
}

// settingsPage is the customer admin's own customer settings.
func (h *customersHandler) settingsPage(c echo.Context) error {
	a := actorOf(c)
	if a.IsPlatformAdmin() {
		return redirect(c, "/admin/customers")
	}
	cu, err := h.store.Customer(c.Request().Context(), a, a.CustomerID)
	if err != nil {
		return err
	}
	return h.renderSettings(c, http.StatusOK, formOf(cu))
}

func (h *customersHandler) renderSettings(c echo.Context, status int, f templates.CustomerFormProps) error {
	p := h.views.page(c, "settings.title", "settings")
	f.Page, f.Action = p, "/settings"
	return render(c, status, templates.CustomerSettings(templates.CustomerSettingsProps{Page: p, Form: f}))
}

func (h *customersHandler) settingsSave(c echo.Context) error {
	a := actorOf(c)
	ctx := c.Request().Context()
	in := customerInput(c)
	cu, err := h.store.UpdateCustomer(ctx, a, a.CustomerID, in)
	if err != nil {
		errs, ok := formErrors(err)
		if !ok {
			return err
		}
		old, _ := h.store.Customer(ctx, a, a.CustomerID)
		return h.renderSettings(c, http.StatusUnprocessableEntity, templates.CustomerFormProps{
			Name: in.Name, SubscriberID: old.SubscriberID, Language: in.Language, TimeZone: in.TimeZone, Errors: errs})
	}
	_ = cu
	h.views.flash(c, "flash.saved")
	return redirect(c, "/settings")
}

func (h *customersHandler) pricesPage(c echo.Context) error {
	ps, err := h.store.Prices(c.Request().Context())
	if err != nil {
		return err
	}
	amount := map[string]string{}
	for _, p := range ps {
		amount[p.Module] = strconv.FormatFloat(float64(p.MonthlyCents)/100, 'f', 2, 64)
	}
	return render(c, http.StatusOK, templates.Prices(templates.PricesProps{Page: h.views.page(c, "prices.title", "prices"), Prices: ps, Amount: amount}))
}

func (h *customersHandler) pricesSave(c echo.Context) error {
	ctx := c.Request().Context()
	ps, err := h.store.Prices(ctx)
	if err != nil {
		return err
	}
	errs := templates.Errors{}
	amount := map[string]string{}
	for i, p := range ps {
		amount[p.Module] = c.FormValue("price_" + p.Module)
		ps[i].Currency = c.FormValue("currency_" + p.Module)
		if err := h.store.SetPrice(ctx, actorOf(c), p.Module, amount[p.Module], ps[i].Currency); err != nil {
			fe, ok := formErrors(err)
			if !ok {
				return err
			}
			for k, v := range fe {
				errs[k] = v
			}
		}
	}
	if len(errs) > 0 {
		return render(c, http.StatusUnprocessableEntity, templates.Prices(templates.PricesProps{Page: h.views.page(c, "prices.title", "prices"), Prices: ps, Amount: amount, Errors: errs}))
	}
	h.views.flash(c, "flash.saved")
	return redirect(c, "/admin/prices")
}
