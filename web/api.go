package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
)

// apiNotFound is the API's answer for a missing or foreign object.
func apiNotFound() error { return apiError(http.StatusNotFound, "not_found", "no such object") }

// apiStoreError maps the store's errors to API errors with codes; of several invalid fields the
// first one the store found names the code.
func apiStoreError(err error) error {
	var ve models.ValidationError
	switch {
	case errors.As(err, &ve) && len(ve) > 0:
		return apiError(http.StatusUnprocessableEntity, codeOf(ve[0].Key), "invalid field "+ve[0].Field)
	case errors.Is(err, models.ErrNotFound):
		return apiNotFound()
	case errors.Is(err, models.ErrForbidden):
		return apiError(http.StatusForbidden, "forbidden", "your role may not do this")
	}
	return err
}

func codeOf(key string) string {
	if len(key) > 6 && key[:6] == "error." {
		return key[6:]
	}
	return key
}

type customerJSON struct {
	ID           uint   `json:"id"`
	Name         string `json:"name"`
	SubscriberID string `json:"subscriber_id"`
	Language     string `json:"language"`
	TimeZone     string `json:"time_zone"`
}

type meJSON struct {
	ID                uint          `json:"id"`
	Username          string        `json:"username"`
	Role              models.Role   `json:"role"`
	CanOpenRecordings bool          `json:"can_open_recordings"`
	Language          string        `json:"language"`
	Customer          *customerJSON `json:"customer"`
}

type poolJSON struct {
	ID          uint      `json:"id"`
	CustomerID  uint      `json:"customer_id"`
	Name        string    `json:"name"`
	StartNumber string    `json:"start_number"`
	Numbers     []string  `json:"numbers"`
	Destination string    `json:"destination"`
	CreatedAt   time.Time `json:"created_at"`
}

func toCustomerJSON(c *models.Customer) *customerJSON {
	if c == nil {
		return nil
	}
	return &customerJSON{ID: c.ID, Name: c.Name, SubscriberID: c.SubscriberID, Language: c.Language, TimeZone: c.TimeZone}
}

func toPoolJSON(p models.Pool) poolJSON {
	return poolJSON{ID: p.ID, CustomerID: p.CustomerID, Name: p.Name, StartNumber: p.StartNumber,
		Numbers: p.NumberList(), Destination: p.Destination, CreatedAt: p.CreatedAt}
}

func (s *Server) apiMe(c echo.Context) error {
	u := userOf(c)
	a := models.ActorOf(*u)
	return c.JSON(http.StatusOK, meJSON{ID: u.ID, Username: u.Username, Role: u.Role,
		CanOpenRecordings: a.MayOpenRecordings(), Language: u.Language, Customer: toCustomerJSON(u.Customer)})
}

func (s *Server) apiPools(c echo.Context) error {
	ps, err := s.store.Pools(c.Request().Context(), actorOf(c))
	if err != nil {
		return err
	}
	out := make([]poolJSON, len(ps))
	for i, p := range ps {
		out[i] = toPoolJSON(p)
	}
	return c.JSON(http.StatusOK, map[string]any{"pools": out})
}

// apiID parses a positive numeric path parameter; anything else is the API's 404.
func apiID(c echo.Context, name string) (uint, error) {
	id, err := idParam(c, name)
	if err != nil {
		return 0, apiNotFound()
	}
	return id, nil
}

func (s *Server) apiPool(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	p, err := s.store.Pool(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return apiStoreError(err)
	}
	return c.JSON(http.StatusOK, toPoolJSON(p))
}
