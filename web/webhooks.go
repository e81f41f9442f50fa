package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/templates"
)

// webhooksHandler is the customer admin's webhook endpoints: the Webhooks page and
// /api/v1/webhooks (internal/webhooks delivers).
type webhooksHandler struct {
	store  *models.Store
	views  views
	policy models.WebhookURLPolicy
	// kick tells the delivery worker a message is waiting (nil: it finds it on its next look).
	kick func()
}

func (h *webhooksHandler) poke() {
	if h.kick != nil {
		h.kick()
	}
}

func webhookRow(e models.WebhookEndpoint, now time.Time) templates.WebhookRow {
	r := templates.WebhookRow{ID: e.ID, URL: e.URL, Description: e.Description, Events: e.EventList(), Enabled: e.Enabled,
		Disabled: e.Disabled, Secret: e.Secret}
	if e.DisabledAt != nil {
		r.DisabledAt = *e.DisabledAt
	}
	if e.FailingSince != nil {
		r.FailingSince = *e.FailingSince
	}
	if len(e.Secrets(now)) > 1 {
		r.Rotating, r.PrevUntil = true, *e.PrevUntil
	}
	return r
}

func (h *webhooksHandler) listProps(c echo.Context) (templates.WebhooksProps, error) {
	eps, err := h.store.Webhooks(c.Request().Context(), actorOf(c))
	if err != nil {
		return templates.WebhooksProps{}, err
	}
	p := templates.WebhooksProps{Page: h.views.page(c, "webhooks.title", "webhooks"), AllEvents: models.WebhookEvents,
		Insecure: h.policy.AllowInsecure, Form: templates.WebhookRow{Events: []string{models.EventRecordingCompleted}}}
	now := h.store.Now()
	for _, e := range eps {
		p.Endpoints = append(p.Endpoints, webhookRow(e, now))
	}
	return p, nil
}

func (h *webhooksHandler) webhooksPage(c echo.Context) error {
	p, err := h.listProps(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.Webhooks(p))
}

func formWebhookInput(c echo.Context, withEnabled bool) (models.WebhookInput, error) {
	form, err := c.FormParams()
	if err != nil {
		if isTooLarge(err) {
			return models.WebhookInput{}, models.ErrTooLarge
		}
		return models.WebhookInput{}, models.ErrBadRequest
	}
	u, d := form.Get("url"), form.Get("description")
	in := models.WebhookInput{URL: &u, Description: &d, Events: form["events"]}
	if in.Events == nil {
		in.Events = []string{}
	}
	if withEnabled {
		on := form.Get("enabled") == "yes"
		in.Enabled = &on
	}
	return in, nil
}

func (h *webhooksHandler) webhookCreate(c echo.Context) error {
	in, err := formWebhookInput(c, false)
	if err != nil {
		return err
	}
	e, err := h.store.CreateWebhook(c.Request().Context(), actorOf(c), c.RealIP(), in, h.policy)
	if err != nil {
		errs, ok := formErrors(err)
		if !ok {
			return err
		}
		p, perr := h.listProps(c)
		if perr != nil {
			return perr
		}
		p.Form, p.Errors = templates.WebhookRow{URL: *in.URL, Description: *in.Description, Events: in.Events}, errs
		return render(c, http.StatusUnprocessableEntity, templates.Webhooks(p))
	}
	h.views.flash(c, "webhooks.flash.created")
	return redirect(c, "/webhooks/"+strconv.FormatUint(uint64(e.ID), 10))
}

func (h *webhooksHandler) endpointProps(c echo.Context) (templates.WebhookProps, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return templates.WebhookProps{}, models.ErrNotFound
	}
	ctx, a := c.Request().Context(), actorOf(c)
	e, err := h.store.Webhook(ctx, a, id)
	if err != nil {
		return templates.WebhookProps{}, err
	}
	ds, err := h.store.WebhookDeliveries(ctx, a, id, 100)
	if err != nil {
		return templates.WebhookProps{}, err
	}
	p := templates.WebhookProps{Page: h.views.page(c, "webhooks.title", "webhooks"), Endpoint: webhookRow(e, h.store.Now()),
		AllEvents: models.WebhookEvents, Loc: userLocation(c)}
	for _, d := range ds {
		p.Deliveries = append(p.Deliveries, deliveryRow(d))
	}
	return p, nil
}

func deliveryRow(d models.WebhookDelivery) templates.DeliveryRow {
	r := templates.DeliveryRow{ID: d.ID, MsgID: d.MsgID, Event: d.Event, Status: d.Status, Attempts: d.Attempts, Code: d.LastCode,
		Error: d.LastError, LatencyMS: d.LatencyMS, Created: d.CreatedAt, NextAttempt: d.NextAttempt}
	if d.LastAttempt != nil {
		r.LastAttempt = *d.LastAttempt
	}
	return r
}

func (h *webhooksHandler) webhookPage(c echo.Context) error {
	p, err := h.endpointProps(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.Webhook(p))
}

func (h *webhooksHandler) webhookUpdate(c echo.Context) error {
	p, err := h.endpointProps(c)
	if err != nil {
		return err
	}
	in, err := formWebhookInput(c, true)
	if err != nil {
		return err
	}
	if _, err := h.store.UpdateWebhook(c.Request().Context(), actorOf(c), c.RealIP(), p.Endpoint.ID, in, h.policy); err != nil {
		errs, ok := formErrors(err)
		if !ok {
			return err
		}
		p.Endpoint.URL, p.Endpoint.Description, p.Endpoint.Events, p.Errors = *in.URL, *in.Description, in.Events, errs
		return render(c, http.StatusUnprocessableEntity, templates.Webhook(p))
	}
	h.views.flash(c, "webhooks.flash.saved")
	return redirect(c, "/webhooks/"+strconv.FormatUint(uint64(p.Endpoint.ID), 10))
}

// webhookAction runs one of the endpoint page's buttons and comes back to the page.
func (h *webhooksHandler) webhookAction(c echo.Context, do func(a models.Actor, id uint) error, flash string) error {
	id, err := idParam(c, "id")
	if err != nil {
		return models.ErrNotFound
	}
	if err := do(actorOf(c), id); err != nil {
		return err
	}
	h.views.flash(c, flash)
	return redirect(c, "/webhooks/"+strconv.FormatUint(uint64(id), 10))
}

func (h *webhooksHandler) webhookRotate(c echo.Context) error {
	return h.webhookAction(c, func(a models.Actor, id uint) error {
		_, err := h.store.RotateWebhookSecret(c.Request().Context(), a, c.RealIP(), id)
		return err
	}, "webhooks.flash.rotated")
}

func (h *webhooksHandler) webhookTest(c echo.Context) error {
	return h.webhookAction(c, func(a models.Actor, id uint) error {
		_, err := h.store.SendTestWebhook(c.Request().Context(), a, id)
		h.poke()
		return err
	}, "webhooks.flash.test_sent")
}

func (h *webhooksHandler) webhookSendAgain(c echo.Context) error {
	did, err := idParam(c, "did")
	if err != nil {
		return models.ErrNotFound
	}
	return h.webhookAction(c, func(a models.Actor, id uint) error {
		_, err := h.store.ResendWebhook(c.Request().Context(), a, id, did)
		h.poke()
		return err
	}, "webhooks.flash.sent_again")
}

func (h *webhooksHandler) webhookDelete(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return models.ErrNotFound
	}
	if err := h.store.DeleteWebhook(c.Request().Context(), actorOf(c), c.RealIP(), id); err != nil {
		return err
	}
	h.views.flash(c, "webhooks.flash.deleted")
	return redirect(c, "/webhooks")
}
