package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
)

type webhookJSON struct {
	ID           uint       `json:"id"`
	URL          string     `json:"url"`
	Description  string     `json:"description"`
	Events       []string   `json:"events"`
	Enabled      bool       `json:"enabled"`
	Secret       string     `json:"secret,omitempty"` // in answers about one endpoint, never in the list
	PrevUntil    *time.Time `json:"previous_secret_valid_until,omitempty"`
	FailingSince *time.Time `json:"failing_since,omitempty"`
	DisabledAt   *time.Time `json:"disabled_at,omitempty"`
	Disabled     string     `json:"disabled_reason,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
}

func toWebhookJSON(e models.WebhookEndpoint, now time.Time, secret bool) webhookJSON {
	j := webhookJSON{ID: e.ID, URL: e.URL, Description: e.Description, Events: e.EventList(), Enabled: e.Enabled,
		FailingSince: e.FailingSince, DisabledAt: e.DisabledAt, Disabled: e.Disabled, CreatedAt: e.CreatedAt.UTC()}
	if j.Events == nil {
		j.Events = []string{}
	}
	if secret {
		j.Secret = e.Secret
		if len(e.Secrets(now)) > 1 {
			j.PrevUntil = e.PrevUntil
		}
	}
	return j
}

type deliveryJSON struct {
	ID          uint       `json:"id"`
	MsgID       string     `json:"webhook_id"`
	Event       string     `json:"event"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	LastCode    int        `json:"last_status_code,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LatencyMS   int64      `json:"latency_ms"`
	CreatedAt   time.Time  `json:"created_at"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

func toDeliveryJSON(d models.WebhookDelivery) deliveryJSON {
	j := deliveryJSON{ID: d.ID, MsgID: d.MsgID, Event: d.Event, Status: d.Status, Attempts: d.Attempts, LastCode: d.LastCode,
		LastError: d.LastError, LatencyMS: d.LatencyMS, CreatedAt: d.CreatedAt.UTC(), LastAttempt: d.LastAttempt, DeliveredAt: d.DeliveredAt}
	if d.Status == models.DeliveryPending {
		n := d.NextAttempt.UTC()
		j.NextAttempt = &n
	}
	return j
}

// apiWebhookInput reads a JSON body with any of url, description, events, enabled.
func apiWebhookInput(c echo.Context) (models.WebhookInput, error) {
	var in struct {
		URL         *string   `json:"url"`
		Description *string   `json:"description"`
		Events      *[]string `json:"events"`
		Enabled     *bool     `json:"enabled"`
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		if isTooLarge(err) {
			return models.WebhookInput{}, models.ErrTooLarge
		}
		return models.WebhookInput{}, models.ErrBadRequest.With("the body must be a JSON object with url, description, events, enabled")
	}
	out := models.WebhookInput{URL: in.URL, Description: in.Description, Enabled: in.Enabled}
	if in.Events != nil {
		out.Events = *in.Events
		if out.Events == nil {
			out.Events = []string{}
		}
	}
	return out, nil
}

func (h *webhooksHandler) apiWebhooks(c echo.Context) error {
	eps, err := h.store.Webhooks(c.Request().Context(), actorOf(c))
	if err != nil {
		return err
	}
	out := make([]webhookJSON, 0, len(eps))
	now := h.store.Now()
	for _, e := range eps {
		out = append(out, toWebhookJSON(e, now, false))
	}
	return c.JSON(http.StatusOK, out)
}

func (h *webhooksHandler) apiWebhookCreate(c echo.Context) error {
	in, err := apiWebhookInput(c)
	if err != nil {
		return err
	}
	e, err := h.store.CreateWebhook(c.Request().Context(), actorOf(c), c.RealIP(), in, h.policy)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toWebhookJSON(e, h.store.Now(), true))
}

func (h *webhooksHandler) apiWebhook(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	e, err := h.store.Webhook(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWebhookJSON(e, h.store.Now(), true))
}

func (h *webhooksHandler) apiWebhookUpdate(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	in, err := apiWebhookInput(c)
	if err != nil {
		return err
	}
	e, err := h.store.UpdateWebhook(c.Request().Context(), actorOf(c), c.RealIP(), id, in, h.policy)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWebhookJSON(e, h.store.Now(), true))
}

func (h *webhooksHandler) apiWebhookDelete(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := h.store.DeleteWebhook(c.Request().Context(), actorOf(c), c.RealIP(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *webhooksHandler) apiWebhookRotate(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	e, err := h.store.RotateWebhookSecret(c.Request().Context(), actorOf(c), c.RealIP(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWebhookJSON(e, h.store.Now(), true))
}

func (h *webhooksHandler) apiWebhookTest(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	d, err := h.store.SendTestWebhook(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	h.poke()
	return c.JSON(http.StatusAccepted, toDeliveryJSON(d))
}

func (h *webhooksHandler) apiWebhookDeliveries(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ds, err := h.store.WebhookDeliveries(c.Request().Context(), actorOf(c), id, 100)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, toDeliveryJSON(d))
	}
	return c.JSON(http.StatusOK, out)
}

func (h *webhooksHandler) apiWebhookResend(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	did, err := idParam(c, "did")
	if err != nil {
		return err
	}
	d, err := h.store.ResendWebhook(c.Request().Context(), actorOf(c), id, did)
	if err != nil {
		return err
	}
	h.poke()
	return c.JSON(http.StatusAccepted, toDeliveryJSON(d))
}
