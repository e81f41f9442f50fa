package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/media"
	"callrec/models"
)

type callEventJSON struct {
	At       time.Time `json:"at"`
	OffsetMS int64     `json:"offset_ms"` // from the call's arrival
	Kind     string    `json:"kind"`
	By       string    `json:"by"`
	Detail   string    `json:"detail,omitempty"`
}

type callRecordingJSON struct {
	ID         uint   `json:"id"`
	FileID     uint   `json:"file_id"` // the id of /api/v1/recordings/{id} and the File Browser's page
	Path       string `json:"path"`
	Status     string `json:"status"`
	Channels   int    `json:"channels"`
	Size       int64  `json:"size"`
	DurationMS int64  `json:"duration_ms"`
	RecordedMS int64  `json:"recorded_ms"`
	Failure    string `json:"failure,omitempty"`
}

type callJSON struct {
	ID             uint               `json:"id"` // 0 only for a live call not saved yet
	EngineID       string             `json:"engine_id"`
	CustomerID     uint               `json:"customer_id"`
	PoolID         uint               `json:"pool_id"`
	A              string             `json:"caller"`
	B              string             `json:"dialed"`
	C              string             `json:"destination"`
	Arrival        time.Time          `json:"arrival"`
	Answered       *time.Time         `json:"answered"`
	Bridged        *time.Time         `json:"bridged"`
	Ended          *time.Time         `json:"ended"`
	State          string             `json:"state"`
	RecordingState string             `json:"recording_state"`
	Mode           string             `json:"mode"`
	Outcome        string             `json:"outcome"`
	DurationMS     int64              `json:"duration_ms"`
	RecordedMS     int64              `json:"recorded_ms"`
	Recording      *callRecordingJSON `json:"recording"`
	Events         []callEventJSON    `json:"events,omitempty"`
	Segments       [][2]int64         `json:"segments,omitempty"` // [start, end] ms from the bridge
	Node           string             `json:"node,omitempty"`     // the cluster node handling it; platform admin only
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// callFromRow is a saved call; detail adds the consent trail and the recorded segments.
func callFromRow(call models.Call, a models.Actor, detail bool) callJSON {
	j := callJSON{ID: call.ID, EngineID: call.EngineID, CustomerID: call.CustomerID, PoolID: call.PoolID,
		A: call.A, B: call.B, C: call.C, Arrival: call.Arrival, Answered: call.Answered, Bridged: call.Bridged, Ended: call.Ended,
		State: call.State, RecordingState: call.RecState, Mode: call.Mode, Outcome: call.Outcome,
		DurationMS: call.DurationMS, RecordedMS: call.RecordedMS}
	if a.IsPlatformAdmin() {
		j.Node = call.NodeID
	}
	mask := func(s string) string { return s }
	if !a.SeesDestinations() {
		j.C = models.MaskNumber(j.C)
		mask = func(s string) string { return models.MaskIn(s, call.C) }
	}
	if r := call.Recording; r != nil {
		j.Recording = &callRecordingJSON{ID: r.ID, FileID: r.FileID, Path: mask(r.Path), Status: r.Status, Channels: r.Channels, Size: r.Size,
			DurationMS: r.DurationMS, RecordedMS: r.RecordedMS, Failure: mask(r.Failure)}
		j.RecordedMS = r.RecordedMS
		if detail {
			j.Segments = r.SegmentsMS()
		}
	}
	if detail {
		for _, e := range call.Events {
			j.Events = append(j.Events, callEventJSON{At: e.At, OffsetMS: e.OffsetMS, Kind: e.Kind, By: e.By, Detail: mask(e.Detail)})
		}
	}
	return j
}

// callFromEngine is a live call as the engine sees it now.
func callFromEngine(c media.CallInfo, id uint, a models.Actor, now time.Time) callJSON {
	j := callJSON{ID: id, EngineID: c.ID, CustomerID: c.CustomerID, PoolID: c.PoolID, A: c.A, B: c.B, C: c.C,
		Arrival: c.Arrival, Answered: optTime(c.Answered), Bridged: optTime(c.Bridged), Ended: optTime(c.Ended),
		State: string(c.State), RecordingState: string(c.Rec), Mode: string(c.Mode), Outcome: string(c.Outcome),
		RecordedMS: c.Recorded.Milliseconds()}
	mask := func(s string) string { return s }
	if !a.SeesDestinations() {
		j.C = models.MaskNumber(j.C)
		mask = func(s string) string { return models.MaskIn(s, c.C) }
	}
	if !c.Bridged.IsZero() {
		end := c.Ended
		if end.IsZero() {
			end = now
		}
		j.DurationMS = end.Sub(c.Bridged).Milliseconds()
	}
	for _, e := range c.Events {
		j.Events = append(j.Events, callEventJSON{At: e.At, OffsetMS: e.At.Sub(c.Arrival).Milliseconds(), Kind: string(e.Kind), By: e.By, Detail: mask(e.Detail)})
	}
	for _, sg := range c.Segments {
		j.Segments = append(j.Segments, [2]int64{sg.Start.Milliseconds(), sg.End.Milliseconds()})
	}
	return j
}

func (h *callLogHandler) apiCalls(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	loc := userLocation(c)
	q := c.QueryParams()
	var f models.CallFilter
	if p := q.Get("pool"); p != "" {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return models.ErrInvalidPool
		}
		f.PoolID = uint(n)
	}
	var err error
	if f.From, err = parseTime(q.Get("from"), loc, false); err != nil {
		return models.ErrInvalidFrom
	}
	if f.To, err = parseTime(q.Get("to"), loc, false); err != nil { // the API's to is the start of its day
		return models.ErrInvalidTo
	}
	f.Number, f.Outcome = q.Get("number"), q.Get("outcome")
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return models.ErrInvalidPage
		}
		f.Page = n
	}
	switch q.Get("state") {
	case "active":
		return h.live.apiActiveCalls(c, a, f)
	case "ended":
		yes := true
		f.Ended = &yes
	case "":
	default:
		return models.ErrInvalidState
	}
	log, err := h.store.Calls(ctx, a, f)
	if err != nil {
		return err
	}
	out := make([]callJSON, len(log.Calls))
	for i, call := range log.Calls {
		out[i] = callFromRow(call, a, false)
	}
	return c.JSON(http.StatusOK, map[string]any{"calls": out, "total": log.Total, "page": log.Page,
		"per_page": log.PerPage, "pages": log.Pages()})
}

// apiActiveCalls answers state=active from the engine's live list (pool, from and to filter it).
func (h *liveHandler) apiActiveCalls(c echo.Context, a models.Actor, f models.CallFilter) error {
	calls, ids, err := h.liveCalls(c.Request().Context(), a)
	if err != nil {
		return err
	}
	now := time.Now()
	out := []callJSON{}
	for _, call := range calls {
		if (f.PoolID != 0 && call.PoolID != f.PoolID) || (!f.From.IsZero() && call.Arrival.Before(f.From)) ||
			(!f.To.IsZero() && !call.Arrival.Before(f.To)) {
			continue
		}
		out = append(out, callFromEngine(call, ids[call.ID], a, now))
	}
	return c.JSON(http.StatusOK, map[string]any{"calls": out, "total": len(out), "page": 1, "per_page": len(out), "pages": 1})
}

func (h *callLogHandler) apiCall(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	a := actorOf(c)
	call, err := h.store.CallWithTrail(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, callFromRow(call, a, true))
}

func (h *liveHandler) apiStartRecording(c echo.Context) error { return h.apiSetRecording(c, true) }

func (h *liveHandler) apiStopRecording(c echo.Context) error { return h.apiSetRecording(c, false) }

func (h *liveHandler) apiSetRecording(c echo.Context, on bool) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	a := actorOf(c)
	info, _, err := h.setRecording(c.Request().Context(), a, id, on, c.RealIP())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, callFromEngine(info, id, a, time.Now()))
}
