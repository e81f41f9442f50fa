package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/media/audio"
	"callrec/models"
	"callrec/templates"
)

// The announcements folder of the File Manager: uploads (streamed to a hidden temporary file in
// the customer's folder, probed, then renamed into place), the list with format details, one-click
// conversion to WAV 8-bit 16 kHz mono, playback and deletion. The JSON API and the pages share
// the same steps; only the answers differ.

// maxAnnouncement is the longest announcement accepted (upload and conversion).
func (h *announcementsHandler) maxAnnouncement() time.Duration {
	if h.maxDuration > 0 {
		return h.maxDuration
	}
	return audio.DefaultMaxDuration
}

// serveAnnouncement serves an announcement file.
func serveAnnouncement(c echo.Context, store *models.Store, tree dataTree, id uint) error {
	f, err := store.FileByID(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	if f.Kind != models.KindAnnouncement {
		return models.ErrNotFound
	}
	return tree.serve(c, f.Path, f.Name)
}

// --- pages ---

func (h *announcementsHandler) announcementFilesPage(c echo.Context) error {
	return h.renderFilesPage(c, http.StatusOK, "")
}

func (h *announcementsHandler) renderFilesPage(c echo.Context, status int, errKey string) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	fs, err := h.store.AnnouncementFiles(ctx, a)
	if err != nil {
		return err
	}
	props := templates.AnnouncementFilesProps{
		Page: h.views.page(c, "announce.files_title", "files"), Files: fs, CanEdit: a.IsAdmin(),
		CanUpload: a.IsAdmin() && !a.IsPlatformAdmin(), MaxUploadMB: h.maxUpload / 1_000_000, MaxUploadBytes: h.maxUpload,
		MaxMinutes: int(h.maxAnnouncement().Minutes()), Error: errKey, UploadURL: "/files/announcements",
	}
	if a.IsPlatformAdmin() {
		// The platform admin works in one customer's folder at a time, chosen on the page.
		if props.Customers, err = h.store.Customers(ctx, a); err != nil {
			return err
		}
		if cid := queryCustomer(c); cid != 0 {
			props.Customer, props.CanUpload = cid, true
			props.UploadURL += "?customer=" + strconv.FormatUint(uint64(cid), 10)
			props.Files = nil
			for _, f := range fs {
				if f.CustomerID == cid {
					props.Files = append(props.Files, f)
				}
			}
		}
	}
	return render(c, status, templates.AnnouncementFiles(props))
}

// pageFileError answers a failed file action on a page: JSON with the message in the user's
// language for the upload script, else the page again with the error. A missing or foreign
// file, a refusal and an internal error get the error page.
func (h *announcementsHandler) pageFileError(c echo.Context, err error) error {
	e, status, _ := declaredOf(err)
	switch e {
	case models.ErrNotFound, models.ErrForbidden, models.ErrInternal:
		return err
	}
	if wantsJSON(c) {
		msg := i18n.T(c.Request().Context(), e.Key)
		return c.JSON(status, map[string]any{"error": map[string]string{"code": e.Code, "message": msg}})
	}
	return h.renderFilesPage(c, status, e.Key)
}

func (h *announcementsHandler) announcementUpload(c echo.Context) error {
	ctx := c.Request().Context()
	cust, err := h.store.AnnouncementCustomer(ctx, actorOf(c), queryCustomer(c))
	if err != nil {
		return h.pageFileError(c, err)
	}
	f, err := h.receiveUpload(c, cust)
	if err != nil {
		return h.pageFileError(c, err)
	}
	// A file the engine cannot play as it is gets its WAV 8-bit 16 kHz mono copy right away
	// (the page keeps the convert button for converting again). The API converts on request.
	flash := "announce.uploaded"
	if !f.Ready {
		if _, err := h.convertFile(c, f.ID); err != nil {
			return h.pageFileError(c, err)
		}
		flash = "announce.uploaded_converted"
	}
	h.views.flash(c, flash) // the script reloads the page, which shows it
	if wantsJSON(c) {
		return c.JSON(http.StatusCreated, toFileJSON(f))
	}
	// Back to the page it came from, without the form's CSRF token (web's gate.csrf).
	back := *c.Request().URL
	q := back.Query()
	q.Del("_csrf")
	back.RawQuery = q.Encode()
	return redirect(c, back.RequestURI())
}

func (h *announcementsHandler) announcementFileContent(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	return serveAnnouncement(c, h.store, h.tree, id)
}

func (h *announcementsHandler) announcementConvert(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := h.convertFile(c, id); err != nil {
		return h.pageFileError(c, err)
	}
	h.views.flash(c, "announce.converted")
	return redirect(c, "/files/announcements")
}

func (h *announcementsHandler) announcementDelete(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := h.deleteFile(c, id); err != nil {
		return h.pageFileError(c, err)
	}
	h.views.flash(c, "announce.deleted")
	return redirect(c, "/files/announcements")
}

// --- API ---

func (h *announcementsHandler) apiFileUpload(c echo.Context) error {
	cid, err := customerParam(c)
	if err != nil {
		return err
	}
	cust, err := h.store.AnnouncementCustomer(c.Request().Context(), actorOf(c), cid)
	if err != nil {
		return err
	}
	f, err := h.receiveUpload(c, cust)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toFileJSON(f))
}

func (h *announcementsHandler) apiFileConvert(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	f, err := h.convertFile(c, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toFileJSON(f))
}

func (h *announcementsHandler) apiFileDelete(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := h.deleteFile(c, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
