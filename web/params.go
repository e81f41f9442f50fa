package web

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
)

// Request parameters, read the same way by every handler.

// idParam parses a positive numeric path parameter; anything else is a 404, as for an id that
// does not exist.
func idParam(c echo.Context, name string) (uint, error) {
	n, err := strconv.ParseUint(c.Param(name), 10, 32)
	if err != nil || n == 0 {
		return 0, models.ErrNotFound
	}
	return uint(n), nil
}

// poolParam is the pool named by the path's id, as the request's user sees it (404 for another
// customer's).
func poolParam(c echo.Context, store *models.Store) (models.Pool, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return models.Pool{}, err
	}
	return store.Pool(c.Request().Context(), actorOf(c), id)
}

// customerParam is the "customer" query parameter: 0 when absent, a 404 when it is not an id.
func customerParam(c echo.Context) (uint, error) {
	v := c.QueryParam("customer")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, models.ErrNotFound
	}
	return uint(n), nil
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

// parseDay reads a day (YYYY-MM-DD) in loc; as an upper bound it is the day's end, so the whole
// day is included. "" is no bound.
func parseDay(v string, loc *time.Location, upper bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, v, loc)
	if err != nil {
		return time.Time{}, err
	}
	if upper {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// parseTime reads a bound the API and the audit log accept: an RFC 3339 time, or a day as
// parseDay reads it.
func parseTime(v string, loc *time.Location, upper bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	if len(v) <= len(time.DateOnly) { // "" or a day: no failed RFC 3339 parse (it allocates)
		return parseDay(v, loc, upper)
	}
	return time.Parse(time.RFC3339, v)
}

// pageLinks are the URLs of a paged list's previous and next page: base with the query q and
// its page ("" before the first and after the last).
func pageLinks(base string, q url.Values, page, pages int) (prev, next string) {
	link := func(n int) string {
		u := url.Values{}
		for k, vs := range q {
			u[k] = vs
		}
		u.Set("page", strconv.Itoa(n))
		return base + "?" + u.Encode()
	}
	if page > 1 {
		prev = link(page - 1)
	}
	if page < pages {
		next = link(page + 1)
	}
	return prev, next
}
