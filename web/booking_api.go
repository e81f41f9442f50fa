package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/models"
)

type bkUserJSON struct {
	ID   uint   `json:"id"`
	Name string `json:"name"`
}

type bkBookingJSON struct {
	ID             uint        `json:"id"`
	Module         string      `json:"module"`
	PoolID         *uint       `json:"pool_id,omitempty"`
	BookedAt       time.Time   `json:"booked_at"`
	BookedBy       bkUserJSON  `json:"booked_by"`
	IP             string      `json:"ip"`
	NoticeVersion  string      `json:"notice_version,omitempty"`
	NoticeLanguage string      `json:"notice_language,omitempty"`
	PriceCents     int64       `json:"price_cents"`
	Currency       string      `json:"currency"`
	CancelledAt    *time.Time  `json:"cancelled_at"`
	CancelledBy    *bkUserJSON `json:"cancelled_by"`
}

type bkPriceJSON struct {
	MonthlyCents int64  `json:"monthly_cents"`
	Currency     string `json:"currency"`
}

type bkSettingsJSON struct {
	Enabled       bool   `json:"enabled"`
	Mode          string `json:"mode"`
	Announcement  bool   `json:"announcement"` // the caller announcement
	Channels      string `json:"channels"`
	RetentionDays int    `json:"retention_days"`
}

type bkAnnouncementJSON struct {
	Slot   string `json:"slot"`
	Source string `json:"source"`
	TextDE string `json:"text_de"`
	TextEN string `json:"text_en"`
}

type bkNoticeJSON struct {
	Text     string `json:"text"`
	Language string `json:"language"`
	Version  string `json:"version"`
}

type bkCallRecordingJSON struct {
	PoolID        uint                 `json:"pool_id"`
	State         string               `json:"state"`
	Booking       *bkBookingJSON       `json:"booking"`
	Settings      *bkSettingsJSON      `json:"settings"`
	Announcements []bkAnnouncementJSON `json:"announcements"`
	Price         bkPriceJSON          `json:"price"`
	LegalNotice   bkNoticeJSON         `json:"legal_notice"`
}

type bkFTPAccessJSON struct {
	CustomerID uint           `json:"customer_id"`
	State      string         `json:"state"`
	Booking    *bkBookingJSON `json:"booking"`
	Price      bkPriceJSON    `json:"price"`
}

func toBookingJSON(b *models.ModuleBooking) *bkBookingJSON {
	if b == nil {
		return nil
	}
	out := &bkBookingJSON{ID: b.ID, Module: b.Module, BookedAt: b.BookedAt, BookedBy: bkUserJSON{b.BookedByID, b.BookedByName},
		IP: b.IP, NoticeVersion: b.NoticeVersion, NoticeLanguage: b.NoticeLang, PriceCents: b.PriceCents, Currency: b.Currency,
		CancelledAt: b.CancelledAt}
	if b.PoolID != 0 {
		id := b.PoolID
		out.PoolID = &id
	}
	if b.CancelledAt != nil {
		out.CancelledBy = &bkUserJSON{b.CancelledByID, b.CancelledBy}
	}
	return out
}

func toCallRecordingJSON(cr models.CallRecording, lang string) bkCallRecordingJSON {
	_, _, n := legalNotice(lang)
	out := bkCallRecordingJSON{PoolID: cr.Pool.ID, State: cr.State(), Booking: toBookingJSON(cr.Booking),
		Announcements: []bkAnnouncementJSON{}, Price: bkPriceJSON{cr.Price.MonthlyCents, cr.Price.Currency},
		LegalNotice: bkNoticeJSON{Text: n.Text, Language: n.Language, Version: models.NoticeVersion(n.Text)}}
	if st := cr.Settings; st != nil {
		out.Settings = &bkSettingsJSON{Enabled: st.Enabled, Mode: st.Mode, Announcement: st.CallerAnnouncement,
			Channels: st.Channels, RetentionDays: st.RetentionDays}
	}
	for _, a := range cr.Announcements {
		out.Announcements = append(out.Announcements, bkAnnouncementJSON{Slot: a.Slot, Source: a.Source, TextDE: a.TextDE, TextEN: a.TextEN})
	}
	return out
}

func toFTPAccessJSON(f models.FTPAccess) bkFTPAccessJSON {
	return bkFTPAccessJSON{CustomerID: f.CustomerID, State: f.State(), Booking: toBookingJSON(f.Booking),
		Price: bkPriceJSON{f.Price.MonthlyCents, f.Price.Currency}}
}

// readJSONObject decodes a request body that must be one JSON object into raw fields.
func readJSONObject(c echo.Context) (map[string]json.RawMessage, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		if isTooLarge(err) {
			return nil, models.ErrTooLarge
		}
		return nil, err
	}
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, models.ErrBadRequest.With("the body must be a JSON object")
	}
	return m, nil
}

func (h *bookingHandler) apiCallRecording(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cr, err := h.store.CallRecordingOf(ctx, actorOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCallRecordingJSON(cr, i18n.Lang(ctx)))
}

func (h *bookingHandler) apiCallRecordingBook(c echo.Context) error {
	p, err := poolParam(c, h.store) // 404 before the body is looked at
	if err != nil {
		return err
	}
	id, ctx, a := p.ID, c.Request().Context(), actorOf(c)
	body, err := readJSONObject(c)
	if err != nil {
		return err
	}
	var accepted bool
	if raw, ok := body["legal_notice_accepted"]; ok {
		_ = json.Unmarshal(raw, &accepted) // anything but true is no confirmation
	}
	// The notice the client showed: by version if it sends one, else the user's language.
	var version string
	if raw, ok := body["notice_version"]; ok {
		if json.Unmarshal(raw, &version) != nil {
			return models.ValidationError{{Field: "notice_version", Err: models.ErrInvalidNoticeVersion}}
		}
	}
	n, ok := noticeShown(ctx, version)
	if !ok {
		return models.ValidationError{{Field: "notice_version", Err: models.ErrLegalNoticeChanged}}
	}
	cr, created, err := h.store.BookCallRecording(ctx, a, id, models.BookingInput{Accepted: accepted, Notice: n, IP: c.RealIP()})
	if err != nil {
		return err
	}
	return c.JSON(upsertStatus(created), toCallRecordingJSON(cr, i18n.Lang(ctx)))
}

func (h *bookingHandler) apiCallRecordingCancel(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := h.store.CancelCallRecording(c.Request().Context(), actorOf(c), id, c.RealIP()); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// settingsPatchJSON reads a PATCH body; a field of the wrong type is invalid_<field>, an unknown
// field unknown_field.
func settingsPatchJSON(body map[string]json.RawMessage) (models.SettingsPatch, error) {
	var p models.SettingsPatch
	fields := []struct {
		name string
		into any // a pointer to the patch's field
		bad  *models.Error
	}{
		{"enabled", &p.Enabled, models.ErrInvalidEnabled},
		{"mode", &p.Mode, models.ErrInvalidMode},
		{"announcement", &p.CallerAnnouncement, models.ErrInvalidAnnouncement},
		{"channels", &p.Channels, models.ErrInvalidChannels},
		{"retention_days", &p.RetentionDays, models.ErrInvalidRetentionDays},
	}
	var v models.ValidationError
	known := map[string]bool{}
	for _, f := range fields {
		known[f.name] = true
		raw, ok := body[f.name]
		if !ok {
			continue
		}
		if json.Unmarshal(raw, f.into) != nil || string(bytes.TrimSpace(raw)) == "null" {
			v = append(v, models.FieldError{Field: f.name, Err: f.bad})
		}
	}
	for k := range body {
		if !known[k] {
			return p, models.ValidationError{{Field: k, Err: models.ErrUnknownField}}
		}
	}
	if len(v) > 0 {
		return p, v
	}
	return p, nil
}

func (h *bookingHandler) apiCallRecordingPatch(c echo.Context) error {
	p, err := poolParam(c, h.store) // 404 before the body is looked at
	if err != nil {
		return err
	}
	id, ctx, a := p.ID, c.Request().Context(), actorOf(c)
	body, err := readJSONObject(c)
	if err != nil {
		return err
	}
	patch, err := settingsPatchJSON(body)
	if err != nil {
		return err
	}
	patch.IP = c.RealIP()
	if _, err := h.store.UpdateCallRecordingSettings(ctx, a, id, patch); err != nil {
		return err
	}
	cr, err := h.store.CallRecordingOf(ctx, a, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCallRecordingJSON(cr, i18n.Lang(ctx)))
}

func (h *bookingHandler) apiFTPAccess(c echo.Context) error {
	cid, err := apiCustomer(c, h.store, true)
	if err != nil {
		return err
	}
	f, err := h.store.FTPAccessOf(c.Request().Context(), actorOf(c), cid)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toFTPAccessJSON(f))
}

func (h *bookingHandler) apiFTPAccessBook(c echo.Context) error {
	cid, err := apiCustomer(c, h.store, true)
	if err != nil {
		return err
	}
	if !h.ftpAvailable {
		return models.ErrModuleUnavailable.With("this installation runs no FTPS or SFTP server")
	}
	f, created, err := h.store.BookFTPAccess(c.Request().Context(), actorOf(c), cid, c.RealIP())
	if err != nil {
		return err
	}
	return c.JSON(upsertStatus(created), toFTPAccessJSON(f))
}

func (h *bookingHandler) apiFTPAccessCancel(c echo.Context) error {
	cid, err := apiCustomer(c, h.store, true)
	if err != nil {
		return err
	}
	if _, err := h.store.CancelFTPAccess(c.Request().Context(), actorOf(c), cid, c.RealIP()); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
