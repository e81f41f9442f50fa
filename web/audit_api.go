package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
)

// auditEventJSON is one event of the audit log in the API.
type auditEventJSON struct {
	ID         uint            `json:"id"`
	CustomerID uint            `json:"customer_id"`
	At         time.Time       `json:"at"`
	User       bkUserJSON      `json:"user"`
	IP         string          `json:"ip"`
	Kind       string          `json:"kind"`
	Object     string          `json:"object"`
	Old        json.RawMessage `json:"old"`
	New        json.RawMessage `json:"new"`
}

// auditValueJSON passes stored JSON through and quotes plain text; "" is null.
func auditValueJSON(v string) json.RawMessage {
	if v == "" {
		return json.RawMessage("null")
	}
	if json.Valid([]byte(v)) {
		return json.RawMessage(v)
	}
	b, _ := json.Marshal(v)
	return b
}

func toAuditEventJSON(e models.AuditEvent) auditEventJSON {
	return auditEventJSON{ID: e.ID, CustomerID: e.CustomerID, At: e.At, User: bkUserJSON{e.UserID, e.Username}, IP: e.IP,
		Kind: e.Kind, Object: e.Object, Old: auditValueJSON(e.OldValue), New: auditValueJSON(e.NewValue)}
}

func (h *auditHandler) apiAuditEvents(c echo.Context) error {
	cid, err := apiCustomer(c, h.store, false)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	a := actorOf(c)
	f, _, bad, err := h.auditFilter(c, cid)
	switch {
	case err != nil:
		return err
	case len(bad) > 0 && bad[0] == "from":
		return models.ErrInvalidFrom.With("days are in the customer's time zone")
	case len(bad) > 0:
		return models.ErrInvalidTo.With("days are in the customer's time zone")
	}
	page, _ := strconv.Atoi(c.QueryParam("page"))
	per, _ := strconv.Atoi(c.QueryParam("per_page"))
	pg, err := h.store.AuditEvents(ctx, a, f, page, per)
	if err != nil {
		return err
	}
	out := make([]auditEventJSON, len(pg.Events))
	for i, e := range pg.Events {
		out[i] = toAuditEventJSON(e)
	}
	return c.JSON(http.StatusOK, map[string]any{"events": out, "total": pg.Total, "page": pg.Page, "per_page": pg.PerPage, "pages": pg.Pages()})
}
