package web

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/models"
	"callrec/models/files"
	"callrec/templates"
)

// One recording: its page (player, waveform, segments, the call's consent trail), its audio,
// its deletion, and the File Browser's bulk actions (ZIP download, deletion).

// recordingDetail is the recording named in the path, pages and API alike.
func (h *recordingsHandler) recordingDetail(c echo.Context) (models.RecordingDetail, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return models.RecordingDetail{}, err
	}
	return h.store.RecordingFile(c.Request().Context(), actorOf(c), id)
}

// deleteRecordings deletes recordings (files and rows, each audited) as the request's user; a
// foreign id among them deletes nothing. The browser is marked as having written (wroteCookie).
func (h *recordingsHandler) deleteRecordings(c echo.Context, ids []uint) error {
	ctx := c.Request().Context()
	deleted, err := h.store.DeleteRecordings(ctx, actorOf(c), c.RealIP(), ids, h.tree.remover(ctx))
	if len(deleted) > 0 {
		c.SetCookie(&http.Cookie{Name: wroteCookie, Value: "1", Path: "/", MaxAge: int(wroteFor / time.Second),
			HttpOnly: true, Secure: h.secureCookies, SameSite: http.SameSiteLaxMode})
	}
	return err
}

// wroteCookie marks a browser whose user has just deleted recordings: for wroteFor its
// listings read their scope's version fresh (models.BrowseQuery.Fresh). In a cluster the next
// page may come from another node, which learns of the deletion by a notification
// (models/scopeversions.go) that may not have arrived yet; the user must not see their own
// deletion undone. Other users see it when the notification arrives (milliseconds), and so do
// API clients (tokens, no cookies).
const (
	wroteCookie = "callrec_wrote"
	wroteFor    = 10 * time.Second
)

// wroteRecently says the request comes from a browser marked by wroteCookie.
func wroteRecently(c echo.Context) bool {
	_, err := c.Cookie(wroteCookie)
	return err == nil
}

func (h *recordingsHandler) recordingPage(c echo.Context) error {
	d, err := h.recordingDetail(c)
	if err != nil {
		return err
	}
	return h.renderRecording(c, d, http.StatusOK, nil)
}

func (h *recordingsHandler) renderRecording(c echo.Context, d models.RecordingDetail, status int, errs templates.Errors) error {
	ctx := c.Request().Context()
	peaks, err := h.ensurePeaks(ctx, d)
	if err != nil {
		h.log.Warn("waveform", "file", d.File.Path, "err", err)
	}
	p := recordingProps(ctx, d, peaks)
	p.Page = h.views.page(c, "files.recording_title", "files")
	p.Crumbs = crumbs(ctx, d.File.Folder)
	if pools, err := h.store.PoolNamesByStart(ctx, actorOf(c), d.Customer.ID); err == nil {
		nameCrumbs(p.Crumbs, d.Customer, pools)
	}
	p.Crumbs = append(p.Crumbs, templates.Crumb{Name: d.File.Name})
	p.CanDelete = actorOf(c).MayDeleteRecordings()
	p.Errors = errs
	return render(c, status, templates.Recording(p))
}

// PeakBuckets is the waveform's resolution (the uploader computes it at the call's end).
const PeakBuckets = files.PeakBuckets

// ensurePeaks returns the recording's waveform peaks, computing them from the file the first
// time and storing them (a file still being written is computed but not stored).
func (h *recordingsHandler) ensurePeaks(ctx context.Context, d models.RecordingDetail) ([]byte, error) {
	// A stereo recording keeps a lane per side; peaks stored as one lane (before lanes existed)
	// are computed again once.
	if d.Recording != nil && len(d.Recording.Peaks) > 0 && (d.File.Channels != 2 || len(d.Recording.Peaks) == 2*PeakBuckets) {
		return d.Recording.Peaks, nil
	}
	f, err := h.tree.object(ctx, d.File.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	peaks, err := files.LanePeaks(f, f.Info().Size, PeakBuckets)
	if err != nil {
		return nil, err
	}
	if d.Recording != nil && d.Recording.Status != models.RecordingActive {
		if err := h.store.SetRecordingPeaks(ctx, d.Recording.ID, peaks); err != nil {
			return peaks, err
		}
	}
	return peaks, nil
}

// waveformPath draws peaks as vertical bars in a 1000x100 box centred on y=50.
func waveformPath(peaks []byte) string { return lanePath(peaks, 50, 48) }

// lanePath draws peaks as vertical bars of at most half above and below the line y=mid.
func lanePath(peaks []byte, mid, half float64) string {
	var b strings.Builder
	b.Grow(len(peaks) * 16)
	n := float64(max(len(peaks), 1))
	for i, p := range peaks {
		h := max(float64(p)*half/255, 0.3)
		x := (float64(i) + 0.5) * 1000 / n
		fmt.Fprintf(&b, "M%.1f %.1fV%.1f", x, mid-h, mid+h)
	}
	return b.String()
}

// waveform draws a recording's peaks: one lane, or for a stereo file the caller's lane above
// the callee's.
func waveform(peaks []byte) (mixed string, lanes []string) {
	ls := files.Lanes(peaks, PeakBuckets)
	if len(ls) == 1 {
		return waveformPath(peaks), nil
	}
	return "", []string{lanePath(ls[0], 25, 23), lanePath(ls[1], 75, 23)}
}

func recordingProps(ctx context.Context, d models.RecordingDetail, peaks []byte) templates.RecordingProps {
	f := d.File
	loc := d.Customer.Location()
	row := recordingRow(f, loc, i18n.Lang(ctx))
	id := strconv.FormatUint(uint64(f.ID), 10)
	parts, parsed := models.ParseRecName(f.Name, loc)
	p := templates.RecordingProps{ID: f.ID, Name: f.Name, Parsed: parsed, Date: row.Date,
		SubscriberID: parts.SubscriberID, StartNumber: parts.StartNumber, A: row.A, B: row.B, C: row.C, Withheld: row.Withheld,
		Duration: row.Duration, DurationSec: float64(f.DurationMS) / 1000, Size: row.Size, Channels: f.Channels,
		AudioURL: "/recordings/" + id + "/audio", DownloadURL: "/recordings/" + id + "/download"}
	p.Waveform, p.Lanes = waveform(peaks)
	total := float64(max(f.DurationMS, 1))
	xOf := func(ms int64) float64 { return min(max(float64(ms), 0), total) * 1000 / total }
	if r := d.Recording; r != nil {
		p.Recorded = fmtDuration(r.RecordedMS)
		p.Status = "files.status_" + r.Status
		if r.Storage != "" {
			p.Storage = "files.storage_" + r.Storage
		}
		for _, sg := range r.SegmentsMS() {
			p.Segments = append(p.Segments, templates.Mark{X: xOf(sg[0]), W: xOf(sg[1]) - xOf(sg[0]), Seconds: float64(sg[0]) / 1000,
				Label: fmtDuration(sg[0]) + "–" + fmtDuration(sg[1]), At: fmtDuration(sg[0])})
		}
	}
	if cl := d.Call; cl != nil {
		for _, e := range cl.Events {
			off := int64(0) // events before the bridge (the notice) sit at the file's start
			if cl.Bridged != nil {
				off = max(e.At.Sub(*cl.Bridged).Milliseconds(), 0)
			}
			label := i18n.T(ctx, "calls.event_"+e.Kind)
			if label == "calls.event_"+e.Kind || label == "" {
				label = e.Kind
			}
			by := e.By
			switch by {
			case "caller", "callee", "system":
				by = i18n.T(ctx, "files.by_"+by)
			}
			p.Events = append(p.Events, templates.Mark{X: xOf(off), Seconds: float64(off) / 1000, Label: label, By: by,
				At: fmtDuration(off), Clock: e.At.In(loc).Format("15:04:05")}) // a time of day: the same in every language
		}
	}
	return p
}

// recordingListen and recordingDownload stream a recording with Range support (the player
// seeks with it). Listens and downloads are audited (one event per user, file and kind within
// models.AuditAccessWindow).
func (h *recordingsHandler) recordingListen(c echo.Context) error { return h.recordingAudio(c, false) }

func (h *recordingsHandler) recordingDownload(c echo.Context) error { return h.recordingAudio(c, true) }

func (h *recordingsHandler) recordingAudio(c echo.Context, download bool) error {
	d, err := h.recordingDetail(c)
	if err != nil {
		return err
	}
	return h.serveRecording(c, d, download)
}

func (h *recordingsHandler) serveRecording(c echo.Context, d models.RecordingDetail, download bool) error {
	f, err := h.tree.object(c.Request().Context(), d.File.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	kind := models.AuditRecordingListened
	if download {
		kind = models.AuditRecordingDownloaded
	}
	// Every request is audited, a player's Range requests within a few minutes as one listen.
	if err := h.store.AuditRecordingAccess(c.Request().Context(), models.AuditEntry{CustomerID: d.File.CustomerID,
		Actor: actorOf(c), IP: c.RealIP(), Kind: kind, Object: d.File.Path}); err != nil {
		return err // no audit, no audio
	}
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderContentType, "audio/wav")
	disp := "inline"
	if download {
		disp = "attachment"
	}
	hdr.Set(echo.HeaderContentDisposition, mime.FormatMediaType(disp, map[string]string{"filename": d.File.Name}))
	hdr.Set("Cache-Control", "private, no-store")
	http.ServeContent(c.Response(), c.Request(), d.File.Name, f.Info().ModTime, f)
	return nil
}

func (h *recordingsHandler) recordingDelete(c echo.Context) error {
	d, err := h.recordingDetail(c)
	if err != nil {
		return err
	}
	if c.FormValue("confirm") != "yes" {
		return h.renderRecording(c, d, http.StatusUnprocessableEntity, templates.Errors{"confirm": models.ErrConfirmDelete.Key})
	}
	if err := h.deleteRecordings(c, []uint{d.File.ID}); err != nil {
		return err
	}
	h.views.flash(c, "files.deleted")
	return redirect(c, "/files/"+d.File.Folder+"/")
}

// recordingsBulk downloads the selected recordings as one ZIP, or deletes them.
func (h *recordingsHandler) recordingsBulk(c echo.Context) error {
	a := actorOf(c)
	form, err := c.FormParams()
	if err != nil {
		return models.ErrBadRequest
	}
	var ids []uint
	for _, v := range form["id"] {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return models.ErrNotFound
		}
		ids = append(ids, uint(n))
	}
	back := form.Get("back")
	if !strings.HasPrefix(back, "/files/") || strings.HasPrefix(back, "//") {
		back = "/files"
	}
	if len(ids) == 0 || len(ids) > 1000 {
		h.views.flash(c, "files.select_some")
		return redirect(c, back)
	}
	switch form.Get("action") {
	case "zip":
		return h.zipRecordings(c, a, ids)
	case "delete":
		if !a.MayDeleteRecordings() {
			return models.ErrForbidden
		}
		if form.Get("confirm") != "yes" {
			h.views.flash(c, "files.confirm_first")
			return redirect(c, back)
		}
		if err := h.deleteRecordings(c, ids); err != nil {
			return err
		}
		h.views.flash(c, "files.deleted_many")
		return redirect(c, back)
	}
	return models.ErrBadRequest
}

// zipWriter sends the ZIP's headers with its first byte, so an error before it (a foreign id)
// still gets an ordinary error answer.
type zipWriter struct {
	c    echo.Context
	name string
	sent bool
}

func (w *zipWriter) Write(b []byte) (int, error) {
	if !w.sent {
		w.sent = true
		h := w.c.Response().Header()
		h.Set(echo.HeaderContentType, "application/zip")
		h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": w.name}))
		h.Set("Cache-Control", "private, no-store")
		w.c.Response().WriteHeader(http.StatusOK)
	}
	return w.c.Response().Write(b)
}

func (h *recordingsHandler) zipRecordings(c echo.Context, a models.Actor, ids []uint) error {
	open := func(rel string) (io.ReadCloser, error) { return h.tree.object(c.Request().Context(), rel) }
	w := &zipWriter{c: c, name: "recordings-" + time.Now().UTC().Format("20060102-150405") + ".zip"}
	fs, err := h.store.WriteZip(c.Request().Context(), a, ids, open, w)
	if !w.sent && err != nil {
		return err
	}
	for _, f := range fs { // what was sent (or begun) is a download
		if aerr := h.store.Audit(context.WithoutCancel(c.Request().Context()), models.AuditEntry{CustomerID: f.CustomerID, Actor: a, IP: c.RealIP(),
			Kind: models.AuditRecordingDownloaded, Object: f.Path, New: map[string]any{"zip": w.name}}); aerr != nil {
			h.log.Error("audit", "err", aerr)
		}
	}
	if err != nil {
		h.log.Warn("zip", "err", err)
	}
	return nil
}
