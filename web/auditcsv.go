package web

import (
	"encoding/csv"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
)

// auditCSV exports the audit log as CSV with the audit page's filters (from, to as yyyy-mm-dd in
// the customer's zone, to inclusive; kind; customer for the platform admin), oldest first,
// streamed in batches. Cells that a spreadsheet would run as a formula are quoted with a '.
func (h *auditHandler) auditCSV(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	f, err := auditFilterOf(c)
	if err != nil {
		return err
	}
	// Check access before the first byte: an empty walk answers the error as a page.
	if _, err := h.store.AuditEvents(ctx, a, f, 1, 1); err != nil {
		return err
	}
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	hdr.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment",
		map[string]string{"filename": "audit-" + time.Now().UTC().Format("20060102-150405") + ".csv"}))
	hdr.Set("Cache-Control", "private, no-store")
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	_ = w.Write([]string{"time", "customer_id", "user_id", "user", "ip", "kind", "object", "old_value", "new_value"})
	err = h.store.EachAuditEvent(ctx, a, f, func(e models.AuditEvent) error {
		return w.Write([]string{e.At.UTC().Format(time.RFC3339), strconv.FormatUint(uint64(e.CustomerID), 10),
			strconv.FormatUint(uint64(e.UserID), 10), csvSafe(e.Username), csvSafe(e.IP), csvSafe(e.Kind),
			csvSafe(e.Object), csvSafe(e.OldValue), csvSafe(e.NewValue)})
	})
	w.Flush()
	if err != nil {
		h.log.Error("audit csv", "err", err)
	}
	return nil
}

// auditFilterOf reads the audit filter from the query; dates are days in the user's customer's
// time zone (UTC for the platform admin).
func auditFilterOf(c echo.Context) (models.AuditFilter, error) {
	var f models.AuditFilter
	loc := time.UTC
	if u := userOf(c); u != nil && u.Customer != nil {
		loc = u.Customer.Location()
	}
	bad := models.ErrBadRequest
	q := c.QueryParams()
	if v := q.Get("from"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			return f, bad
		}
		f.From = t
	}
	if v := q.Get("to"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			return f, bad
		}
		f.To = t.AddDate(0, 0, 1)
	}
	if v := q.Get("customer"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return f, models.ErrNotFound
		}
		f.CustomerID = uint(n)
	}
	f.Kind = q.Get("kind")
	return f, nil
}

// csvSafe keeps spreadsheet programs from running a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
