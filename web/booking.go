package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/models"
	"callrec/templates"
)

// The pool page's modules: Call Recording (per pool, after the legal confirmation) and FTP access
// (per customer). Plain forms ending in 303 redirects; a refused form re-renders the pool page
// with 422 and the message beside the field.

// bookingHandler books and cancels a pool's modules and keeps the Call Recording settings.
type bookingHandler struct {
	store *models.Store
	views views
	// showPool renders a pool's whole page (every module's sections) with a status; a refused
	// form goes back to it.
	showPool func(c echo.Context, p models.Pool, status int) error
	// ftpAvailable: the installation runs an FTPS or SFTP server, so FTP access can be booked
	// (without one it is not offered: a booking would buy nothing).
	ftpAvailable bool
}

// legalNotice is the Call Recording notice in lang exactly as the booking form shows it: the
// notice paragraph and the confirmation beside the checkbox. Its version is the sha256 of
// both, joined by an empty line.
func legalNotice(lang string) (text, confirm string, n models.LegalNotice) {
	text, confirm = i18n.TL(lang, "booking.notice.text"), i18n.TL(lang, "booking.notice.confirm")
	return text, confirm, models.LegalNotice{Text: text + "\n\n" + confirm, Language: lang}
}

// noticeShown finds the notice whose version the form carried (the user may have switched the
// language since). An empty version (a client without the hidden field) means the request's
// language; a version matching no current text means the notice changed under the user's eyes.
func noticeShown(ctx context.Context, version string) (models.LegalNotice, bool) {
	if version == "" {
		_, _, n := legalNotice(i18n.Lang(ctx))
		return n, true
	}
	for _, l := range i18n.Languages {
		if _, _, n := legalNotice(l); models.NoticeVersion(n.Text) == version {
			return n, true
		}
	}
	return models.LegalNotice{}, false
}

// bookingTime formats a time in the customer's zone, the way the UI language writes dates
// (one style on every page: i18n.DateTime).
func bookingTime(ctx context.Context, t time.Time, loc *time.Location) string {
	return i18n.DateTime(i18n.Lang(ctx), t.In(loc))
}

// price is a price list entry or a booking's price as the UI language writes money.
func price(ctx context.Context, cents int64, currency string) string {
	return i18n.Money(i18n.Lang(ctx), cents, currency)
}

func bookingLocation(p models.Pool) *time.Location {
	if p.Customer != nil {
		return p.Customer.Location()
	}
	return models.Customer{}.Location()
}

func moduleState(ctx context.Context, b *models.ModuleBooking, item models.PriceItem, loc *time.Location) (templates.ModuleState, *templates.BookingFacts) {
	st := templates.ModuleState{State: models.StateNotBooked, Price: price(ctx, item.MonthlyCents, item.Currency)}
	if b == nil {
		return st, nil
	}
	st.State, st.BookedAt, st.BookedBy = b.State(), bookingTime(ctx, b.BookedAt, loc), b.BookedByName
	if b.CancelledAt != nil {
		st.CancelledAt, st.CancelledBy = bookingTime(ctx, *b.CancelledAt, loc), b.CancelledBy
		return st, nil
	}
	return st, &templates.BookingFacts{BookedAt: st.BookedAt, BookedBy: b.BookedByName, IP: b.IP,
		NoticeVersion: b.NoticeVersion, NoticeLang: b.NoticeLang, Price: price(ctx, b.PriceCents, b.Currency)}
}

// moduleErrors are a refused module form's errors, to show on the re-rendered pool page.
type moduleErrors struct {
	booking  templates.Errors
	settings templates.Errors
	form     *templates.SettingsForm // the posted settings, shown again
}

// moduleErrorsKey holds a refused module form's moduleErrors in the request's context while
// the pool page is rendered again.
const moduleErrorsKey = "booking.moduleErrors"

// poolSection is the pool page's module sections (booking and settings forms), with a refused
// form's errors when there are some.
func (h *bookingHandler) poolSection(c echo.Context, p models.Pool) ([]templ.Component, error) {
	me, _ := c.Get(moduleErrorsKey).(moduleErrors)
	return h.bookingModules(c, p, me)
}

// bookingModules builds the pool page's module sections, with a refused form's errors.
func (h *bookingHandler) bookingModules(c echo.Context, p models.Pool, me moduleErrors) ([]templ.Component, error) {
	ctx := c.Request().Context()
	a := actorOf(c)
	cr, err := h.store.CallRecordingOf(ctx, a, p.ID)
	if err != nil {
		return nil, err
	}
	fa, err := h.store.FTPAccessOf(ctx, a, p.CustomerID)
	if err != nil {
		return nil, err
	}
	loc := bookingLocation(p)
	csrf := h.views.csrfToken(c)
	text, confirm, n := legalNotice(i18n.Lang(ctx))
	crp := templates.CallRecordingProps{PoolID: p.ID, CSRF: csrf, CanEdit: a.IsAdmin(), Errors: me.booking,
		SettingsErrors: me.settings, Announcements: cr.Announcements,
		Flash: h.views.takeFlash(c, placeCallRecording), SettingsFlash: h.views.takeFlash(c, placeSettings),
		Notice: templates.LegalNoticeView{Text: text, Confirm: confirm, Version: models.NoticeVersion(n.Text)}}
	crp.State, crp.Facts = moduleState(ctx, cr.Booking, cr.Price, loc)
	if cr.Settings != nil {
		crp.Settings = &templates.SettingsForm{Enabled: cr.Settings.Enabled, Mode: cr.Settings.Mode,
			CallerAnnouncement: cr.Settings.CallerAnnouncement, Channels: cr.Settings.Channels,
			RetentionDays: strconv.Itoa(cr.Settings.RetentionDays)}
		if me.form != nil {
			crp.Settings = me.form
		}
	}
	mods := []templ.Component{templates.CallRecordingModule(crp)}
	if h.ftpAvailable || fa.Booked() { // a booking in force stays visible, and can be cancelled
		fp := templates.FTPAccessProps{PoolID: p.ID, CSRF: csrf, CanEdit: a.IsAdmin(), CanBook: h.ftpAvailable,
			Flash: h.views.takeFlash(c, placeFTPAccess)}
		fp.State, fp.Facts = moduleState(ctx, fa.Booking, fa.Price, loc)
		mods = append(mods, templates.FTPAccessModule(fp))
	}
	return mods, nil
}

// poolWithErrors re-renders a pool's whole page, every module included, with a refused module
// form (422).
func (h *bookingHandler) poolWithErrors(c echo.Context, p models.Pool, me moduleErrors) error {
	c.Set(moduleErrorsKey, me)
	return h.showPool(c, p, http.StatusUnprocessableEntity)
}

// Where a module form's message appears: at the head of its section after a booking or a
// cancellation (the form is gone, the section changed), beside the save button after saving the
// settings. The settings form is answered in place (htmx swaps the section, the page stays where
// it is); otherwise the redirect's fragment is the message itself, so it is in view.
const (
	placeCallRecording = "call-recording"
	placeSettings      = "call-recording-settings"
	placeFTPAccess     = "ftp-access"
)

func bookingAnchor(p models.Pool, anchor string) string {
	return "/pools/" + strconv.FormatUint(uint64(p.ID), 10) + "#" + anchor
}

func bookingFormBool(c echo.Context, name string) bool {
	switch strings.ToLower(c.FormValue(name)) {
	case "true", "on", "1", "yes":
		return true
	}
	return false
}

func (h *bookingHandler) callRecordingBook(c echo.Context) error {
	p, err := poolParam(c, h.store)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	n, ok := noticeShown(ctx, c.FormValue("notice_version"))
	if !ok {
		return h.poolWithErrors(c, p, moduleErrors{booking: templates.Errors{"legal_notice_accepted": models.ErrLegalNoticeChanged.Key}})
	}
	_, _, err = h.store.BookCallRecording(ctx, actorOf(c), p.ID, models.BookingInput{
		Accepted: bookingFormBool(c, "legal_notice_accepted"), Notice: n, IP: c.RealIP()})
	if errs, ok := formErrors(err); ok {
		return h.poolWithErrors(c, p, moduleErrors{booking: errs})
	}
	if err != nil {
		return err
	}
	h.views.flashAt(c, "booking.flash.booked", placeCallRecording)
	return redirect(c, bookingAnchor(p, "flash-"+placeCallRecording))
}

func (h *bookingHandler) callRecordingCancel(c echo.Context) error {
	p, err := poolParam(c, h.store)
	if err != nil {
		return err
	}
	if _, err := h.store.CancelCallRecording(c.Request().Context(), actorOf(c), p.ID, c.RealIP()); err != nil {
		return err
	}
	h.views.flashAt(c, "booking.flash.cancelled", placeCallRecording)
	return redirect(c, bookingAnchor(p, "flash-"+placeCallRecording))
}

// settingsFromForm reads the settings form: unchecked boxes are off, every field is sent.
func settingsFromForm(c echo.Context) (models.SettingsPatch, templates.SettingsForm, models.ValidationError) {
	f := templates.SettingsForm{Enabled: bookingFormBool(c, "enabled"), Mode: c.FormValue("mode"),
		CallerAnnouncement: bookingFormBool(c, "caller_announcement"), Channels: c.FormValue("channels"),
		RetentionDays: strings.TrimSpace(c.FormValue("retention_days"))}
	patch := models.SettingsPatch{Enabled: &f.Enabled, Mode: &f.Mode, CallerAnnouncement: &f.CallerAnnouncement,
		Channels: &f.Channels, IP: c.RealIP()}
	var v models.ValidationError
	if f.RetentionDays == "" {
		f.RetentionDays = "0"
	}
	days, err := strconv.Atoi(f.RetentionDays)
	if err != nil {
		v = append(v, models.FieldError{Field: "retention_days", Err: models.ErrInvalidRetentionDays})
	} else {
		patch.RetentionDays = &days
	}
	return patch, f, v
}

func (h *bookingHandler) callRecordingSettings(c echo.Context) error {
	p, err := poolParam(c, h.store)
	if err != nil {
		return err
	}
	a := actorOf(c)
	patch, form, v := settingsFromForm(c)
	if v = append(v, patch.Validate()...); len(v) > 0 {
		err = v
	} else {
		_, err = h.store.UpdateCallRecordingSettings(c.Request().Context(), a, p.ID, patch)
	}
	if errs, ok := formErrors(err); ok {
		return h.poolWithErrors(c, p, moduleErrors{settings: errs, form: &form})
	}
	if err != nil {
		return err
	}
	h.views.flashAt(c, "booking.flash.settings_saved", placeSettings)
	return redirect(c, bookingAnchor(p, "flash-"+placeSettings))
}

func (h *bookingHandler) ftpAccessBook(c echo.Context) error {
	p, err := poolParam(c, h.store)
	if err != nil {
		return err
	}
	if !h.ftpAvailable {
		return models.ErrModuleUnavailable
	}
	if _, _, err := h.store.BookFTPAccess(c.Request().Context(), actorOf(c), p.CustomerID, c.RealIP()); err != nil {
		return err
	}
	h.views.flashAt(c, "booking.flash.booked", placeFTPAccess)
	return redirect(c, bookingAnchor(p, "flash-"+placeFTPAccess))
}

func (h *bookingHandler) ftpAccessCancel(c echo.Context) error {
	p, err := poolParam(c, h.store)
	if err != nil {
		return err
	}
	if _, err := h.store.CancelFTPAccess(c.Request().Context(), actorOf(c), p.CustomerID, c.RealIP()); err != nil {
		return err
	}
	h.views.flashAt(c, "booking.flash.cancelled", placeFTPAccess)
	return redirect(c, bookingAnchor(p, "flash-"+placeFTPAccess))
}
