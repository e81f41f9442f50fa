package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/media"
	"callrec/models"
	"callrec/templates"
)

// Live calls. Who may do what: everybody of a customer (agents and customer admins) sees the
// customer's live calls and call log; agents and customer admins start and stop recording of
// their customer's calls (the seed: agents do it with one click once an admin enabled manual
// recording). The
// platform admin sees every customer's calls but controls none: whether a call is recorded is
// the customer's decision, made under the legal notice the customer confirmed. Users who may
// not open recordings see the destination number masked.

// liveHandler is the Live calls page, its event stream and the recording buttons, in page and
// API.
type liveHandler struct {
	store  *models.Store
	engine LiveEngine // nil when no engine runs
	hub    *liveHub
	views  views
	log    *slog.Logger
}

// mayControlRecording reports whether a may start and stop recording of customer's calls.
func mayControlRecording(a models.Actor, customer uint) bool {
	return !a.IsPlatformAdmin() && a.CustomerID != 0 && a.CustomerID == customer &&
		(a.Role == models.RoleAgent || a.Role == models.RoleCustomerAdmin)
}

// errSessionGone ends a live stream whose user may no longer see it.
var errSessionGone = errors.New("web: the stream's login is no longer valid")

// liveCalls is the engine's live list as a may see it, with the calls' database ids.
func (h *liveHandler) liveCalls(ctx context.Context, a models.Actor) ([]media.CallInfo, map[string]uint, error) {
	if h.engine == nil {
		return nil, nil, models.ErrEngineNotRunning
	}
	all := h.engine.Calls()
	calls := all[:0:0]
	ids := make([]string, 0, len(all))
	for _, c := range all {
		if a.IsPlatformAdmin() || (a.CustomerID != 0 && c.CustomerID == a.CustomerID) {
			calls = append(calls, c)
			ids = append(ids, c.ID)
		}
	}
	dbIDs, err := h.store.CallIDs(ctx, a, ids)
	return calls, dbIDs, err
}

// liveView holds what rendering rows of one user needs besides the calls.
type liveView struct {
	actor     models.Actor
	pools     map[uint]string
	customers map[uint]models.Customer
	now       time.Time
	lang      string // the UI language dates are written in
}

func newLiveView(ctx context.Context, store *models.Store, a models.Actor) (liveView, error) {
	v := liveView{actor: a, now: time.Now(), lang: i18n.Lang(ctx)}
	var err error
	if v.pools, err = store.PoolNames(ctx, a); err != nil {
		return v, err
	}
	if a.IsPlatformAdmin() {
		v.customers, err = store.CustomersByID(ctx, a)
	}
	return v, err
}

func hasEvent(c media.CallInfo, kind media.EventKind) bool {
	for _, e := range c.Events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// recordingBlocked is the i18n key of why recording of c cannot be started or stopped, or "".
func recordingBlocked(c media.CallInfo) string {
	switch {
	case c.Rec == media.RecObjected:
		return "calls.reason_objected"
	case c.Mode == "":
		return "calls.reason_not_booked"
	case hasEvent(c, media.EventHash1Pressed):
		return "calls.reason_interrupted"
	case c.Rec == media.RecFailed:
		return "calls.reason_failed"
	}
	return ""
}

func (v liveView) row(c media.CallInfo, id uint) templates.LiveRow {
	r := templates.LiveRow{ID: id, Pool: v.pools[c.PoolID], A: c.A, B: c.B, C: c.C, State: string(c.State),
		Rec: string(c.Rec), Mode: string(c.Mode), RecordedMS: c.Recorded.Milliseconds(), Recording: c.Rec == media.RecRecording}
	if r.Rec == "" {
		r.Rec = string(media.RecOff)
	}
	if cu, ok := v.customers[c.CustomerID]; ok {
		r.Customer = cu.Name
	}
	if !v.actor.SeesDestinations() {
		r.C = models.MaskNumber(c.C)
	}
	since := c.Arrival
	if !c.Bridged.IsZero() {
		since = c.Bridged
	}
	r.RunningMS = max(0, v.now.Sub(since).Milliseconds())
	r.CanControl = mayControlRecording(v.actor, c.CustomerID)
	r.Reason = recordingBlocked(c)
	r.CanStart = r.Reason == "" && c.Rec != media.RecRecording
	r.CanStop = r.Reason == "" && c.Rec == media.RecRecording
	return r
}

func (h *liveHandler) liveRows(ctx context.Context, a models.Actor) ([]templates.LiveRow, error) {
	calls, ids, err := h.liveCalls(ctx, a)
	if err != nil {
		return nil, err
	}
	v, err := newLiveView(ctx, h.store, a)
	if err != nil {
		return nil, err
	}
	rows := make([]templates.LiveRow, 0, len(calls))
	for _, c := range calls {
		rows = append(rows, v.row(c, ids[c.ID]))
	}
	return rows, nil
}

func (h *liveHandler) livePage(c echo.Context) error {
	a := actorOf(c)
	props := templates.LiveProps{Page: h.views.page(c, "calls.live_title", "live"), ShowCustomer: a.IsPlatformAdmin()}
	rows, err := h.liveRows(c.Request().Context(), a)
	switch {
	case errors.Is(err, models.ErrEngineNotRunning):
		props.EngineDown = true
	case err != nil:
		return err
	}
	props.Rows = rows
	return render(c, http.StatusOK, templates.LivePage(props))
}

// liveEvents is the Live calls page's Server-Sent Events stream: the full list of rows as event
// "calls" on connect (so a reconnect starts fresh) and again after every change of the
// customer's calls.
func (h *liveHandler) liveEvents(c echo.Context) error {
	if h.engine == nil {
		return c.NoContent(http.StatusNoContent) // tells EventSource not to reconnect
	}
	a := actorOf(c)
	// The platform admin's CustomerID is 0: woken for every customer. What a stream shows is
	// decided by liveCalls, never by the wake-up.
	sub := h.hub.subscribe(a.CustomerID)
	defer h.hub.unsubscribe(sub)
	ctx := c.Request().Context()
	w := c.Response()
	hdr := w.Header()
	hdr.Set(echo.HeaderContentType, "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return nil
	}
	var buf bytes.Buffer
	stamp, checked := "", time.Now()
	if u := userOf(c); u != nil {
		stamp = authStamp(u)
	}
	send := func() error {
		// A stream outlives the request that checked the login: a user disabled, deleted or
		// with a new password since then stops receiving calls within a minute.
		if time.Since(checked) > time.Minute {
			u, err := h.store.UserByID(ctx, a.UserID)
			if err != nil || authStamp(&u) != stamp {
				return errSessionGone
			}
			checked = time.Now()
		}
		rows, err := h.liveRows(ctx, a)
		if err != nil {
			return err
		}
		buf.Reset()
		if err := templates.LiveRows(rows, a.IsPlatformAdmin()).Render(ctx, &buf); err != nil {
			return err
		}
		if _, err := w.Write(sseEvent("calls", buf.Bytes())); err != nil {
			return err
		}
		w.Flush()
		return nil
	}
	if err := send(); err != nil {
		return nil
	}
	ping := time.NewTicker(20 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.hub.closed:
			return nil
		case <-sub.wake:
			if err := send(); err != nil {
				if ctx.Err() == nil && !errors.Is(err, errSessionGone) {
					h.log.Warn("live calls stream", "err", err)
				}
				return nil
			}
		case <-ping.C: // the list again: finds dead connections, keeps proxies from closing an
			// idle one, re-checks the login
			if err := send(); err != nil {
				return nil
			}
		}
	}
}

// sseEvent frames data as one Server-Sent Event; every line of data gets its own "data:" field.
func sseEvent(name string, data []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(data) + 64)
	b.WriteString("event: ")
	b.WriteString(name)
	b.WriteByte('\n')
	for _, line := range bytes.Split(data, []byte("\n")) {
		b.WriteString("data: ")
		b.Write(bytes.TrimSuffix(line, []byte("\r")))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// setRecording starts or stops recording of the call with database id (scoped to a) and audits
// it. Errors: models.ErrNotFound (unknown or another customer's), models.ErrForbidden,
// models.ErrEngineNotRunning, and the engine's ErrNoSuchCall (ended), ErrCallerObjected,
// ErrRecordingNotBooked, ErrCalleeInterrupted.
func (h *liveHandler) setRecording(ctx context.Context, a models.Actor, id uint, on bool, ip string) (media.CallInfo, models.Call, error) {
	call, err := h.store.CallWithTrail(ctx, a, id)
	if err != nil {
		return media.CallInfo{}, call, err
	}
	if !mayControlRecording(a, call.CustomerID) {
		return media.CallInfo{}, call, models.ErrForbidden
	}
	if h.engine == nil {
		return media.CallInfo{}, call, models.ErrEngineNotRunning
	}
	if call.Ended != nil {
		return media.CallInfo{}, call, media.ErrNoSuchCall
	}
	old := media.RecState(call.RecState)
	for _, lc := range h.engine.Calls() { // the engine's state is fresher than the row
		if lc.ID == call.EngineID {
			old = lc.Rec
		}
	}
	var info media.CallInfo
	kind := "recording.started"
	if on {
		info, err = h.engine.StartRecording(call.EngineID, a.Username)
	} else {
		kind = "recording.stopped"
		info, err = h.engine.StopRecording(call.EngineID, a.Username)
	}
	if err != nil {
		return info, call, err
	}
	if info.CustomerID != call.CustomerID { // never act on a call the row does not describe
		return media.CallInfo{}, call, models.ErrNotFound
	}
	// A repeated click changes nothing and is no new start or stop; a start before the bridge
	// is one (recording begins with the bridge).
	if info.Rec == old && !(on && info.Bridged.IsZero()) {
		return info, call, nil
	}
	if aerr := h.store.Audit(ctx, models.AuditEntry{CustomerID: call.CustomerID, Actor: a, IP: ip, Kind: kind,
		Object: "call " + strconv.FormatUint(uint64(call.ID), 10),
		Old:    map[string]any{"recording": old},
		New:    map[string]any{"recording": info.Rec, "engine_id": info.ID, "recorded_ms": info.Recorded.Milliseconds()},
	}); aerr != nil {
		h.log.Error("audit", "kind", kind, "call", call.ID, "err", aerr)
	}
	return info, call, nil
}

// liveStartRecording and liveStopRecording are the Start/Stop buttons: htmx gets the call's new
// row, a plain form post a redirect back to the page. Both buttons are idempotent.
func (h *liveHandler) liveStartRecording(c echo.Context) error { return h.liveSetRecording(c, true) }

func (h *liveHandler) liveStopRecording(c echo.Context) error { return h.liveSetRecording(c, false) }

func (h *liveHandler) liveSetRecording(c echo.Context, on bool) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	a := actorOf(c)
	info, _, err := h.setRecording(ctx, a, id, on, c.RealIP())
	refused := engineRefusal(err) // shown in the call's row
	if err != nil && refused == nil {
		return err
	}
	if c.Request().Header.Get("HX-Request") != "true" {
		return redirect(c, "/calls/live")
	}
	if errors.Is(err, media.ErrNoSuchCall) {
		return c.HTML(http.StatusOK, "") // the call is gone: so is its row
	}
	v, verr := newLiveView(ctx, h.store, a)
	if verr != nil {
		return verr
	}
	row := v.row(info, id)
	if refused != nil {
		row.Error = refused.Key
	}
	return render(c, http.StatusOK, templates.LiveRowView(row, a.IsPlatformAdmin()))
}
