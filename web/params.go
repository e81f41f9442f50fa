package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
)

// Request parameters, read the same way by every handler.

// idParam parses a positive numeric path parameter; anything else is a 404.
func idParam(c echo.Context, name string) (uint, error) {
	n, err := strconv.ParseUint(c.Param(name), 10, 32)
	if err != nil || n == 0 {
		return 0, models.ErrNotFound
	}
	return uint(n), nil
}

// apiID parses a positive numeric path parameter; anything else is the API's 404.
func apiID(c echo.Context, name string) (uint, error) {
	id, err := idParam(c, name)
	if err != nil {
		return 0, models.ErrNotFound
	}
	return id, nil
}

// queryCustomer is the "customer" query parameter (the platform admin's choice), 0 when absent.
func queryCustomer(c echo.Context) uint {
	n, err := strconv.ParseUint(c.QueryParam("customer"), 10, 32)
	if err != nil {
		return 0
	}
	return uint(n)
}

// apiCustomer is the customer an API call concerns: the user's own; the platform admin names one
// with ?customer=.
func apiCustomer(c echo.Context, store *models.Store, required bool) (uint, error) {
	a := actorOf(c)
	q := c.QueryParam("customer")
	if !a.IsPlatformAdmin() {
		if q != "" && q != strconv.FormatUint(uint64(a.CustomerID), 10) {
			return 0, models.ErrNotFound
		}
		return a.CustomerID, nil
	}
	if q == "" && !required {
		return 0, nil
	}
	n, err := strconv.ParseUint(q, 10, 32)
	if err != nil || n == 0 {
		return 0, models.ErrCustomerRequired.With("the platform admin names one with ?customer=ID")
	}
	if _, err := store.Customer(c.Request().Context(), a, uint(n)); err != nil {
		return 0, err
	}
	return uint(n), nil
}

// userLocation is the time zone the user reads times in: the customer's (Europe/Berlin for the
// platform admin).
func userLocation(c echo.Context) *time.Location {
	if u := userOf(c); u != nil && u.Customer != nil {
		return u.Customer.Location()
	}
	return models.Customer{}.Location()
}

// wantsJSON is true for the page's script, which uploads with XMLHttpRequest to show progress.
func wantsJSON(c echo.Context) bool {
	return strings.Contains(c.Request().Header.Get(echo.HeaderAccept), echo.MIMEApplicationJSON)
}
