package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/models/files"
)

// recordingJSON is a recording file: the file as /files shows it plus its name's parts.
type recordingJSON struct {
	fileJSON
	Path         string     `json:"path"`
	CallAt       *time.Time `json:"call_at"`
	PoolID       uint       `json:"pool_id,omitempty"`
	SubscriberID string     `json:"subscriber_id"`
	StartNumber  string     `json:"start_number"`
	A            string     `json:"a"`
	B            string     `json:"b"`
	C            string     `json:"c"`
	Withheld     bool       `json:"withheld"`
	NameParsed   bool       `json:"name_parsed"`
}

type eventJSON struct {
	At       time.Time `json:"at"`
	OffsetMS int64     `json:"offset_ms"` // from the start of the file (the bridge); 0 for earlier events
	Kind     string    `json:"kind"`
	By       string    `json:"by"`
	Detail   string    `json:"detail,omitempty"`
}

type recordingDetailJSON struct {
	recordingJSON
	Status     string `json:"status,omitempty"`
	RecordedMS int64  `json:"recorded_ms"`
	// Storage: spooled (on the node, waiting for its upload), stored, or failed (kept on the
	// node, retried); StoreError is the last failure's reason.
	Storage    string      `json:"storage,omitempty"`
	StoredAt   *time.Time  `json:"stored_at,omitempty"`
	SHA256     string      `json:"sha256,omitempty"`
	StoreError string      `json:"store_error,omitempty"`
	Segments   [][2]int64  `json:"segments"`
	Outcome    string      `json:"outcome,omitempty"`
	Events     []eventJSON `json:"events"`
}

func toRecordingJSON(f models.File, loc *time.Location) recordingJSON {
	parts, ok := models.ParseRecName(f.Name, loc)
	r := recordingJSON{fileJSON: toFileJSON(f), Path: f.Path, CallAt: f.CallAt, PoolID: f.PoolID, SubscriberID: parts.SubscriberID,
		StartNumber: parts.StartNumber, A: f.A, B: f.B, C: f.C, NameParsed: ok}
	if ok && f.A == "" && f.B == "" && f.C == "" {
		r.A, r.B, r.C = parts.A, parts.B, parts.C
	}
	if r.CallAt == nil && ok {
		t := parts.At.UTC()
		r.CallAt = &t
	}
	r.Withheld = r.A == "" && (ok || f.B != "")
	return r
}

// apiPage reads page=: a number (offset pages) or the opaque next_page/prev_page of an answer.
func apiPage(q *models.BrowseQuery, v string) {
	if v == "" {
		return
	}
	if n, err := strconv.Atoi(v); err == nil {
		q.Page = n
		return
	}
	q.Cursor = v
}

func (h *recordingsHandler) apiRecordings(c echo.Context) error {
	a := actorOf(c)
	qp := c.QueryParams()
	q := models.BrowseQuery{Sort: qp.Get("sort"), Desc: qp.Get("order") != "asc", Number: qp.Get("number"), NoTotal: qp.Get("total") == "false"}
	if qp.Get("total") == "exact" {
		q.CountLimit = -1
	}
	if q.Sort == "" {
		q.Sort = "date"
	}
	var err error
	if q.From, err = parseTime(qp.Get("from"), time.UTC, false); err != nil {
		return models.ErrInvalidFrom
	}
	if q.To, err = parseTime(qp.Get("to"), time.UTC, true); err != nil {
		return models.ErrInvalidTo
	}
	if v := qp.Get("pool"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return models.ErrInvalidPool
		}
		if err := h.store.CheckPool(c.Request().Context(), a, uint(n)); err != nil {
			return err
		}
		q.PoolID = uint(n)
	}
	if v := qp.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return models.ErrInvalidLimit.With("1 to 500")
		}
		q.Limit = n
	}
	apiPage(&q, qp.Get("page"))
	return h.apiList(c, a, q)
}

// apiList answers one page of a recordings query.
func (h *recordingsHandler) apiList(c echo.Context, a models.Actor, q models.BrowseQuery) error {
	page, err := h.store.Browse(c.Request().Context(), a, q)
	if errors.Is(err, models.ErrBadQuery) {
		return models.ErrBadQuery
	}
	if err != nil {
		return err
	}
	zones, rows := h.recordingsJSON(c, page)
	return h.lists.writeJSONView(c, viewKey("recordings", page, zones...),
		func() any { return recordingListBody(rows(), page) })
}

// recordingsJSON makes the page's recordings for the API (rows) and names what their JSON
// depends on besides the files (zones, for viewKey): a file's name is read in its customer's
// time zone.
func (h *recordingsHandler) recordingsJSON(c echo.Context, page models.BrowsePage) (zones []string, rows func() []recordingJSON) {
	locs := map[uint]*time.Location{}
	for _, f := range page.Files {
		if locs[f.CustomerID] == nil {
			loc := h.customerLocation(c, f.CustomerID)
			locs[f.CustomerID] = loc
			zones = append(zones, strconv.FormatUint(uint64(f.CustomerID), 10)+"="+loc.String())
		}
	}
	return zones, func() []recordingJSON {
		out := make([]recordingJSON, len(page.Files))
		for i, f := range page.Files {
			out[i] = toRecordingJSON(f, locs[f.CustomerID])
		}
		return out
	}
}

// recordingListBody is the recordings API's answer.
func recordingListBody(rows []recordingJSON, page models.BrowsePage) map[string]any {
	body := map[string]any{"recordings": rows, "sort": page.Sort, "order": map[bool]string{true: "desc", false: "asc"}[page.Desc]}
	if page.Total >= 0 {
		body["total"], body["total_more"] = page.Total, page.TotalMore
	}
	if page.Next != "" {
		body["next_page"] = page.Next
	}
	if page.Prev != "" {
		body["prev_page"] = page.Prev
	}
	return body
}

// folderListBody is the files API's answer for a pool's folder.
func folderListBody(folder string, folders []folderJSON, rows []recordingJSON, page models.BrowsePage) map[string]any {
	body := map[string]any{"folder": folder, "folders": folders, "files": rows, "total": page.Total, "total_more": page.TotalMore}
	if page.Next != "" {
		body["next_page"] = page.Next
	}
	if page.Prev != "" {
		body["prev_page"] = page.Prev
	}
	return body
}

// customerLocation is a customer's time zone for reading file names (Europe/Berlin if unknown).
func (h *recordingsHandler) customerLocation(c echo.Context, id uint) *time.Location {
	if u := userOf(c); u != nil && u.Customer != nil && u.Customer.ID == id {
		return u.Customer.Location()
	}
	cu, err := h.store.Customer(c.Request().Context(), models.Actor{Role: models.RolePlatformAdmin}, id)
	if err != nil {
		return models.Customer{}.Location()
	}
	return cu.Location()
}

func (h *recordingsHandler) apiRecording(c echo.Context) error {
	d, err := h.recordingDetail(c)
	if err != nil {
		return err
	}
	out := recordingDetailJSON{recordingJSON: toRecordingJSON(d.File, d.Customer.Location()), Segments: [][2]int64{}, Events: []eventJSON{}}
	if r := d.Recording; r != nil {
		out.Status, out.RecordedMS = r.Status, r.RecordedMS
		out.Storage, out.StoredAt, out.SHA256, out.StoreError = r.Storage, r.StoredAt, r.SHA256, r.StoreError
		if sg := r.SegmentsMS(); sg != nil {
			out.Segments = sg
		}
	}
	if cl := d.Call; cl != nil {
		out.Outcome = cl.Outcome
		for _, e := range cl.Events {
			off := int64(0)
			if cl.Bridged != nil {
				off = max(e.At.Sub(*cl.Bridged).Milliseconds(), 0)
			}
			out.Events = append(out.Events, eventJSON{At: e.At, OffsetMS: off, Kind: e.Kind, By: e.By, Detail: e.Detail})
		}
	}
	return c.JSON(http.StatusOK, out)
}

func (h *recordingsHandler) apiRecordingAudio(c echo.Context) error {
	d, err := h.recordingDetail(c)
	if err != nil {
		return err
	}
	return h.serveRecording(c, d, c.QueryParam("download") == "1")
}

func (h *recordingsHandler) apiRecordingWaveform(c echo.Context) error {
	d, err := h.recordingDetail(c)
	if err != nil {
		return err
	}
	peaks, err := h.ensurePeaks(c.Request().Context(), d)
	if errors.Is(err, models.ErrNotFound) {
		return models.ErrFileMissing
	} else if err != nil {
		return models.ErrUnreadableFile
	}
	ints := func(b []byte) []int {
		out := make([]int, len(b))
		for i, p := range b {
			out[i] = int(p)
		}
		return out
	}
	ps := ints(files.Mixed(peaks, PeakBuckets))
	out := map[string]any{"buckets": len(ps), "duration_ms": d.File.DurationMS, "max": 255, "peaks": ps}
	if ls := files.Lanes(peaks, PeakBuckets); len(ls) == 2 { // stereo: each side too
		out["channels"] = [][]int{ints(ls[0]), ints(ls[1])}
	}
	return c.JSON(http.StatusOK, out)
}

func (h *recordingsHandler) apiRecordingDelete(c echo.Context) error {
	d, err := h.recordingDetail(c)
	if err != nil {
		return err
	}
	if err := h.deleteRecordings(c, []uint{d.File.ID}); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type folderJSON struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// apiFiles lists a folder of the tree: its sub-folders and (for a pool's recordings folder or
// an announcements folder) its files. folder= is empty for the root.
func (h *recordingsHandler) apiFiles(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	folder := strings.Trim(c.QueryParam("folder"), "/")
	if folder != "" {
		if _, err := files.Clean(folder); err != nil {
			return models.ErrNotFound
		}
	}
	body := map[string]any{"folder": folder, "folders": []folderJSON{}, "files": []any{}}
	root, _, _ := strings.Cut(folder, "/")
	if root == models.AnnouncementsRoot {
		all, err := h.store.AnnouncementFiles(ctx, a)
		if err != nil {
			return err
		}
		var fs []models.File
		folders := map[string]bool{}
		var subs []folderJSON
		for _, f := range all {
			switch {
			case f.Folder == folder:
				fs = append(fs, f)
			case strings.HasPrefix(f.Folder, folder+"/"):
				name, _, _ := strings.Cut(strings.TrimPrefix(f.Folder, folder+"/"), "/")
				if !folders[name] {
					folders[name] = true
					subs = append(subs, folderJSON{Name: name, Path: folder + "/" + name})
				}
			}
		}
		if len(fs) == 0 && len(subs) == 0 && folder != models.AnnouncementsRoot {
			if _, err := h.store.FolderOwner(ctx, a, folder); err != nil {
				return models.ErrNotFound
			}
		}
		if subs != nil {
			body["folders"] = subs
		}
		body["files"] = toFilesJSON(fs)
		return c.JSON(http.StatusOK, body)
	}
	if root != "" && root != models.RecordingsRoot || strings.Count(folder, "/") > 2 {
		return models.ErrNotFound
	}
	subs, err := h.store.SubFolders(ctx, a, folder)
	if err != nil {
		return err
	}
	fj := make([]folderJSON, len(subs))
	for i, f := range subs {
		fj[i] = folderJSON{Name: f.Name, Path: f.Path}
	}
	body["folders"] = fj
	if strings.Count(folder, "/") < 2 {
		return c.JSON(http.StatusOK, body)
	}
	q := models.BrowseQuery{Folder: folder, Sort: c.QueryParam("sort"), Desc: c.QueryParam("order") == "desc"}
	if q.Sort == "" {
		q.Sort = "name"
	}
	apiPage(&q, c.QueryParam("page"))
	page, err := h.store.Browse(ctx, a, q)
	if errors.Is(err, models.ErrBadQuery) {
		return models.ErrBadQuery
	} else if err != nil {
		return err
	}
	zones, rows := h.recordingsJSON(c, page)
	parts := append([]string{folder, strconv.Itoa(len(zones))}, zones...)
	for _, f := range fj {
		parts = append(parts, f.Name, f.Path)
	}
	return h.lists.writeJSONView(c, viewKey("files", page, parts...),
		func() any { return folderListBody(folder, fj, rows(), page) })
}

// apiFileContent serves any file of the tree: recordings through the recordings' own handler
// (which checks the permission and writes the "listened" audit event).
func (h *recordingsHandler) apiFileContent(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	f, err := h.store.FileByID(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	if f.Kind == models.KindRecording {
		return h.apiRecordingAudio(c)
	}
	return serveAnnouncement(c, h.store, h.tree, id)
}
