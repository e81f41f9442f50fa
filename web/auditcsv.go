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

// auditCSV exports the audit log as CSV with the audit page's filters (auditFilter; customer
// as a number), oldest first, streamed in batches. Cells that a spreadsheet would run as a
// formula are quoted with a '.
func (h *auditHandler) auditCSV(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	cid, err := customerParam(c)
	if err != nil {
		return err
	}
	f, _, bad, err := h.auditFilter(c, cid)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return models.ValidationError{{Field: bad[0], Err: models.ErrDateInvalid}}
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

// csvSafe keeps spreadsheet programs from running a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
