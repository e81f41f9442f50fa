package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/models"
	"callrec/models/files"
	"callrec/templates"
)

// The File Browser (Administration > File Browser) and the recording pages.
//
// Who may do what: only authorized persons (actor.MayOpenRecordings: admins and users with the
// permission) see call_recording; for everybody else every recording URL is a 404, exactly like
// a recording that does not exist, so guessing learns nothing. Only customer admins delete.
// Recordings are addressed by their File row's id everywhere (pages and API).

// recordingsTree opens the data folder's tree for one request (an os.Root: no name, ".." or
// symlink reaches outside it).
func (s *Server) recordingsTree() (*files.Tree, error) { return files.Open(s.cfg.DataDir) }

func (s *Server) filesRoot(c echo.Context) error {
	subs, err := s.store.SubFolders(c.Request().Context(), actorOf(c), "")
	if err != nil {
		return storeError(err)
	}
	p := templates.FilesProps{Page: s.page(c, "files.title", "files"), Crumbs: []templates.Crumb{{Name: i18n.T(c.Request().Context(), "files.root")}}}
	for _, f := range subs {
		p.Folders = append(p.Folders, templates.FolderLink{Name: f.Name, Href: "/files/" + f.Path})
	}
	return render(c, http.StatusOK, templates.Files(p))
}

// crumbs are the breadcrumbs of folder (slash-separated, relative to the tree).
func crumbs(ctx context.Context, folder string) []templates.Crumb {
	cs := []templates.Crumb{{Name: i18n.T(ctx, "files.root"), Href: "/files"}}
	acc := ""
	for _, part := range strings.Split(folder, "/") {
		acc = path.Join(acc, part)
		cs = append(cs, templates.Crumb{Name: part, Href: "/files/" + acc})
	}
	return cs
}

// folderParam is the recordings folder named by the URL: call_recording[/sub[/start]]; anything
// unclean (.., %2e%2e, hidden names) or deeper is a 404.
func folderParam(c echo.Context) (string, error) {
	rel, err := url.PathUnescape(c.Param("*"))
	if err != nil {
		return "", echo.ErrNotFound
	}
	rel = strings.TrimSuffix(rel, "/")
	folder := models.RecordingsRoot
	if rel != "" {
		folder += "/" + rel
	}
	if c, err := files.Clean(folder); err != nil || c != folder || strings.Count(folder, "/") > 2 {
		return "", echo.ErrNotFound
	}
	return folder, nil
}

func (s *Server) recordingFolder(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	folder, err := folderParam(c)
	if err != nil {
		return err
	}
	p := templates.FilesProps{Page: s.page(c, "files.title", "files"), Crumbs: crumbs(ctx, folder)}
	depth := strings.Count(folder, "/")
	if depth < 2 {
		subs, err := s.store.SubFolders(ctx, a, folder)
		if err != nil {
			return storeError(err)
		}
		for _, f := range subs {
			p.Folders = append(p.Folders, templates.FolderLink{Name: f.Name, Href: "/files/" + f.Path + "/"})
		}
	}
	if depth == 0 {
		return render(c, http.StatusOK, templates.Files(p))
	}
	owner, err := s.store.FolderOwner(ctx, a, folder)
	if err != nil {
		return storeError(err)
	}
	list, status, err := s.recordingList(c, a, owner, folder)
	if err != nil {
		return err
	}
	p.List = list
	return render(c, status, templates.Files(p))
}

// listFilter is the list's query string, as entered.
type listFilter struct {
	Sort, Order, From, To, Number, Pool, Cursor string
}

func listFilterOf(c echo.Context) listFilter {
	q := c.QueryParams()
	return listFilter{Sort: q.Get("sort"), Order: q.Get("order"), From: q.Get("from"), To: q.Get("to"),
		Number: strings.TrimSpace(q.Get("number")), Pool: q.Get("pool"), Cursor: q.Get("cursor")}
}

// query turns the filter into a store query; bad dates are field errors, shown beside the field.
func (f listFilter) query(loc *time.Location) (models.BrowseQuery, templates.Errors) {
	q := models.BrowseQuery{Sort: f.Sort, Desc: f.Order == "desc", Number: f.Number, Cursor: f.Cursor}
	if q.Sort == "" {
		q.Sort, q.Desc = "date", f.Order != "asc"
	}
	errs := templates.Errors{}
	if f.From != "" {
		t, err := time.ParseInLocation("2006-01-02", f.From, loc)
		if err != nil {
			errs["from"] = "error.files_bad_date"
		}
		q.From = t
	}
	if f.To != "" {
		t, err := time.ParseInLocation("2006-01-02", f.To, loc)
		if err != nil {
			errs["to"] = "error.files_bad_date"
		}
		q.To = t.AddDate(0, 0, 1) // the whole last day
	}
	if len(f.Number) > 32 {
		errs["number"] = "error.files_bad_number"
	}
	if n, err := strconv.ParseUint(f.Pool, 10, 32); err == nil {
		q.PoolID = uint(n)
	}
	return q, errs
}

// url is the list's URL with the filter (empty values are left out), the parameters in
// url.Values.Encode's order. Built by hand: it runs for every sort header and pager link.
func (f listFilter) url(base string) string {
	b := []byte(base)
	sep := byte('?')
	for _, p := range [...]struct{ k, v string }{{"cursor", f.Cursor}, {"from", f.From}, {"number", f.Number},
		{"order", f.Order}, {"pool", f.Pool}, {"sort", f.Sort}, {"to", f.To}} {
		if p.v != "" {
			b = append(append(append(b, sep), p.k...), '=')
			b = append(b, url.QueryEscape(p.v)...)
			sep = '&'
		}
	}
	return string(b)
}

// recordingList is a folder's list of recordings rendered (filters, sortable header, rows,
// bulk actions, pager). A cached listing keeps it in its Memo, keyed by everything else it
// shows (language, time zone, the filter as typed, the delete permission, the pool choice): a
// page viewed again sends the same bytes. Lists with field errors are not kept.
func (s *Server) recordingList(c echo.Context, a models.Actor, owner models.Customer, folder string) (templates.HTML, int, error) {
	ctx := c.Request().Context()
	loc := owner.Location()
	f := listFilterOf(c)
	q, errs := f.query(loc)
	q.Brief = true // the list's columns only
	base := "/files/" + folder + "/"
	if strings.Count(folder, "/") == 2 {
		q.Folder = folder
	} else {
		q.CustomerID = owner.ID // the subscriber's folder searches all its pools
	}
	var pools []templates.PoolChoice
	if q.Folder == "" { // a pool's folder is one pool: the choice is only for the subscriber's folder
		all, err := s.store.Pools(ctx, a)
		if err != nil {
			return nil, 0, err
		}
		for _, p := range all {
			if p.CustomerID == owner.ID {
				pools = append(pools, templates.PoolChoice{ID: p.ID, Label: p.Name + " (" + p.StartNumber + ")", Selected: p.ID == q.PoolID})
			}
		}
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
		q.From, q.To = time.Time{}, time.Time{}
	}
	page, err := s.store.Browse(ctx, a, q)
	if errors.Is(err, models.ErrBadQuery) { // a stale or edited link: start over
		q.Cursor, q.Sort, q.Desc = "", "date", true
		f.Cursor, f.Sort, f.Order = "", "", ""
		page, err = s.store.Browse(ctx, a, q)
	}
	if err != nil {
		return nil, 0, storeError(err)
	}
	key := ""
	if len(errs) == 0 {
		key = listMemoKey(i18n.Lang(ctx), loc, a.MayDeleteRecordings(), f.url(base), pools)
		if v, ok := page.Memo.Load(key); ok {
			return v.(templates.HTML), status, nil
		}
	}
	back := f
	back.Cursor = "" // bulk actions return to the list's first page
	l := templates.RecordingList{Action: base, From: f.From, To: f.To, Number: f.Number, Errors: errs, Pools: pools,
		CanDelete: a.MayDeleteRecordings(), Back: back.url(base)}
	l.Sort, l.Desc, l.Total, l.TotalMore = page.Sort, page.Desc, page.Total, page.TotalMore
	for _, key := range models.BrowseSorts {
		link := f
		link.Sort, link.Order, link.Cursor = key, "asc", ""
		if key == page.Sort && !page.Desc || key != page.Sort && key == "date" {
			link.Order = "desc"
		}
		l.Sorts = append(l.Sorts, templates.SortLink{Key: key, Current: key == page.Sort, Desc: page.Desc, Href: link.url(base)})
	}
	cur := f
	cur.Sort = page.Sort
	cur.Order = map[bool]string{true: "desc", false: "asc"}[page.Desc]
	if page.Next != "" {
		cur.Cursor = page.Next
		l.Next = cur.url(base)
	}
	if page.Prev != "" {
		cur.Cursor = page.Prev
		l.Prev = cur.url(base)
	}
	l.Rows = make([]templates.RecordingRow, len(page.Files))
	for i, f := range page.Files {
		l.Rows[i] = recordingRow(f, loc)
	}
	html, err := templates.RecordingListHTML(ctx, l)
	if err != nil {
		return nil, 0, err
	}
	if key != "" {
		page.Memo.Store(key, html)
	}
	return html, status, nil
}

// listMemoKey is what a rendered list depends on besides the listing itself: its key in the
// listing's Memo.
func listMemoKey(lang string, loc *time.Location, canDelete bool, url string, pools []templates.PoolChoice) string {
	var b strings.Builder
	b.WriteString("list\x00")
	b.WriteString(lang)
	b.WriteByte(0)
	b.WriteString(loc.String())
	b.WriteByte(0)
	b.WriteString(strconv.FormatBool(canDelete))
	b.WriteByte(0)
	b.WriteString(url)
	for _, p := range pools {
		b.WriteByte(0)
		b.WriteString(strconv.FormatUint(uint64(p.ID), 10))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatBool(p.Selected))
		b.WriteByte(' ')
		b.WriteString(p.Label)
	}
	return b.String()
}

// recordingRow is one line of the File Browser's list. It runs 50 times per page, so it
// formats by hand what fmt and time.Format would (TestRecordingRowFormats compares them), and
// parses the file name only when the row's columns leave something open.
func recordingRow(f models.File, loc *time.Location) templates.RecordingRow {
	r := templates.RecordingRow{ID: f.ID, Name: f.Name, Href: "/recordings/" + strconv.FormatUint(uint64(f.ID), 10),
		A: f.A, B: f.B, C: f.C, Duration: fmtDuration(f.DurationMS), Size: fmtSize(f.Size)}
	if f.CallAt != nil {
		r.Date = fmtDateTime(f.CallAt.In(loc))
		if f.A != "" { // a recorded call: its columns say it all
			return r
		}
	}
	parts, ok := models.ParseRecName(f.Name, loc)
	if f.CallAt == nil && ok {
		r.Date = fmtDateTime(parts.At)
	}
	if ok && f.A == "" && f.B == "" && f.C == "" { // a file no call produced: the name tells
		r.A, r.B, r.C = parts.A, parts.B, parts.C
	}
	r.Withheld = r.A == "" && (ok || f.B != "")
	return r
}

// fmtDateTime is t.Format("2006-01-02 15:04:05") for the years 0 to 9999.
func fmtDateTime(t time.Time) string {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		return t.Format("2006-01-02 15:04:05")
	}
	b := make([]byte, 0, 19)
	b = appendDigits(b, y, 4)
	b = appendDigits(append(b, '-'), int(mo), 2)
	b = appendDigits(append(b, '-'), d, 2)
	b = appendDigits(append(b, ' '), h, 2)
	b = appendDigits(append(b, ':'), mi, 2)
	b = appendDigits(append(b, ':'), s, 2)
	return string(b)
}

// appendDigits appends n (>= 0) with at least width digits, zero-padded.
func appendDigits(b []byte, n, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for n >= 10 || width > 1 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	buf[i] = byte('0' + n)
	return append(b, buf[i:]...)
}

// fmtDuration is m:ss, or h:mm:ss from an hour on (rounded to the second).
func fmtDuration(ms int64) string {
	sec := int((max(ms, 0) + 500) / 1000)
	b := make([]byte, 0, 16)
	if sec >= 3600 {
		b = append(appendDigits(b, sec/3600, 1), ':')
		b = appendDigits(b, sec/60%60, 2)
	} else {
		b = appendDigits(b, sec/60, 1)
	}
	b = appendDigits(append(b, ':'), sec%60, 2)
	return string(b)
}

func fmtSize(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 0, 64) + " kB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// --- one recording ---

func (s *Server) recordingDetail(c echo.Context) (models.RecordingDetail, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return models.RecordingDetail{}, err
	}
	d, err := s.store.RecordingFile(c.Request().Context(), actorOf(c), id)
	return d, storeError(err)
}

func (s *Server) recordingPage(c echo.Context) error {
	d, err := s.recordingDetail(c)
	if err != nil {
		return err
	}
	return s.renderRecording(c, d, http.StatusOK, nil)
}

func (s *Server) renderRecording(c echo.Context, d models.RecordingDetail, status int, errs templates.Errors) error {
	ctx := c.Request().Context()
	peaks, err := s.ensurePeaks(ctx, d)
	if err != nil {
		s.log.Warn("waveform", "file", d.File.Path, "err", err)
	}
	p := recordingProps(ctx, d, peaks)
	p.Page = s.page(c, "files.recording_title", "files")
	p.Crumbs = append(crumbs(ctx, d.File.Folder), templates.Crumb{Name: d.File.Name})
	p.CanDelete = actorOf(c).MayDeleteRecordings()
	p.Errors = errs
	return render(c, status, templates.Recording(p))
}

// PeakBuckets is the waveform's resolution: one bucket per 1/1000 of the recording.
const PeakBuckets = 1000

// ensurePeaks returns the recording's waveform peaks, computing them from the file the first
// time and storing them (a file still being written is computed but not stored).
func (s *Server) ensurePeaks(ctx context.Context, d models.RecordingDetail) ([]byte, error) {
	if d.Recording != nil && len(d.Recording.Peaks) > 0 {
		return d.Recording.Peaks, nil
	}
	tree, err := s.recordingsTree()
	if err != nil {
		return nil, err
	}
	defer tree.Close()
	f, st, err := openRegular(tree, d.File.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	peaks, err := files.Peaks(f, st.Size(), PeakBuckets)
	if err != nil {
		return nil, err
	}
	if d.Recording != nil && d.Recording.Status != models.RecordingActive {
		if err := s.store.SetRecordingPeaks(ctx, d.Recording.ID, peaks); err != nil {
			return peaks, err
		}
	}
	return peaks, nil
}

// openRegular opens a file of the tree that is a regular file: a symlink planted in the data
// folder is refused even when it points inside the tree.
func openRegular(tree *files.Tree, rel string) (io.ReadSeekCloser, fs.FileInfo, error) {
	c, err := files.Clean(rel)
	if err != nil {
		return nil, nil, models.ErrNotFound
	}
	if st, err := tree.Root().Lstat(c); err != nil || !st.Mode().IsRegular() {
		return nil, nil, models.ErrNotFound
	}
	f, err := tree.Open(c)
	if err != nil {
		return nil, nil, models.ErrNotFound
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, models.ErrNotFound
	}
	return f, st, nil
}

// waveformPath draws peaks as vertical bars in a 1000x100 box centred on y=50.
func waveformPath(peaks []byte) string {
	var b strings.Builder
	b.Grow(len(peaks) * 16)
	n := float64(max(len(peaks), 1))
	for i, p := range peaks {
		h := max(float64(p)*48/255, 0.3)
		x := (float64(i) + 0.5) * 1000 / n
		fmt.Fprintf(&b, "M%.1f %.1fV%.1f", x, 50-h, 50+h)
	}
	return b.String()
}

func recordingProps(ctx context.Context, d models.RecordingDetail, peaks []byte) templates.RecordingProps {
	f := d.File
	loc := d.Customer.Location()
	row := recordingRow(f, loc)
	id := strconv.FormatUint(uint64(f.ID), 10)
	parts, parsed := models.ParseRecName(f.Name, loc)
	p := templates.RecordingProps{ID: f.ID, Name: f.Name, Parsed: parsed, Date: row.Date,
		SubscriberID: parts.SubscriberID, StartNumber: parts.StartNumber, A: row.A, B: row.B, C: row.C, Withheld: row.Withheld,
		Duration: row.Duration, DurationSec: float64(f.DurationMS) / 1000, Size: row.Size, Channels: f.Channels,
		Waveform: waveformPath(peaks), AudioURL: "/recordings/" + id + "/audio", DownloadURL: "/recordings/" + id + "/download"}
	total := float64(max(f.DurationMS, 1))
	xOf := func(ms int64) float64 { return min(max(float64(ms), 0), total) * 1000 / total }
	if r := d.Recording; r != nil {
		p.Recorded = fmtDuration(r.RecordedMS)
		p.Status = "files.status_" + r.Status
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
				At: fmtDuration(off), Clock: e.At.In(loc).Format("15:04:05")})
		}
	}
	return p
}

// recordingListen and recordingDownload stream a recording with Range support (the player
// seeks with it). Listens and downloads are audited (one event per user, file and kind within
// models.AuditAccessWindow).
func (s *Server) recordingListen(c echo.Context) error   { return s.recordingAudio(c, false) }
func (s *Server) recordingDownload(c echo.Context) error { return s.recordingAudio(c, true) }

func (s *Server) recordingAudio(c echo.Context, download bool) error {
	d, err := s.recordingDetail(c)
	if err != nil {
		return err
	}
	return s.serveRecording(c, d, download)
}

func (s *Server) serveRecording(c echo.Context, d models.RecordingDetail, download bool) error {
	tree, err := s.recordingsTree()
	if err != nil {
		return err
	}
	defer tree.Close()
	f, st, err := openRegular(tree, d.File.Path)
	if err != nil {
		return storeError(err)
	}
	defer f.Close()
	kind := models.AuditRecordingListened
	if download {
		kind = models.AuditRecordingDownloaded
	}
	// Every request is audited, a player's Range requests within a few minutes as one listen.
	if err := s.store.AuditRecordingAccess(c.Request().Context(), models.AuditEntry{CustomerID: d.File.CustomerID,
		Actor: actorOf(c), IP: c.RealIP(), Kind: kind, Object: d.File.Path}); err != nil {
		return err // no audit, no audio
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "audio/wav")
	disp := "inline"
	if download {
		disp = "attachment"
	}
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType(disp, map[string]string{"filename": d.File.Name}))
	h.Set("Cache-Control", "private, no-store")
	http.ServeContent(c.Response(), c.Request(), d.File.Name, st.ModTime(), f)
	return nil
}

// removeFromTree removes a file of the data folder (for the store's deletions).
func (s *Server) removeFromTree() (func(string) error, func(), error) {
	tree, err := s.recordingsTree()
	if err != nil {
		return nil, nil, err
	}
	return tree.Remove, func() { tree.Close() }, nil
}

func (s *Server) recordingDelete(c echo.Context) error {
	d, err := s.recordingDetail(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	if c.FormValue("confirm") != "yes" {
		return s.renderRecording(c, d, http.StatusUnprocessableEntity, templates.Errors{"confirm": "error.files_confirm_delete"})
	}
	remove, done, err := s.removeFromTree()
	if err != nil {
		return err
	}
	defer done()
	if _, err := s.store.DeleteRecordings(c.Request().Context(), a, c.RealIP(), []uint{d.File.ID}, remove); err != nil {
		return storeError(err)
	}
	s.flash(c, "files.deleted")
	return redirect(c, "/files/"+d.File.Folder+"/")
}

// recordingsBulk downloads the selected recordings as one ZIP, or deletes them.
func (s *Server) recordingsBulk(c echo.Context) error {
	a := actorOf(c)
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
	}
	var ids []uint
	for _, v := range form["id"] {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return echo.ErrNotFound
		}
		ids = append(ids, uint(n))
	}
	back := form.Get("back")
	if !strings.HasPrefix(back, "/files/") || strings.HasPrefix(back, "//") {
		back = "/files"
	}
	if len(ids) == 0 || len(ids) > 1000 {
		s.flash(c, "files.select_some")
		return redirect(c, back)
	}
	switch form.Get("action") {
	case "zip":
		return s.zipRecordings(c, a, ids)
	case "delete":
		if !a.MayDeleteRecordings() {
			return echo.NewHTTPError(http.StatusForbidden, "error.forbidden")
		}
		if form.Get("confirm") != "yes" {
			s.flash(c, "files.confirm_first")
			return redirect(c, back)
		}
		remove, done, err := s.removeFromTree()
		if err != nil {
			return err
		}
		defer done()
		if _, err := s.store.DeleteRecordings(c.Request().Context(), a, c.RealIP(), ids, remove); err != nil {
			return storeError(err)
		}
		s.flash(c, "files.deleted_many")
		return redirect(c, back)
	}
	return echo.NewHTTPError(http.StatusBadRequest, "error.bad_request")
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

func (s *Server) zipRecordings(c echo.Context, a models.Actor, ids []uint) error {
	tree, err := s.recordingsTree()
	if err != nil {
		return err
	}
	defer tree.Close()
	open := func(rel string) (io.ReadCloser, error) {
		f, _, err := openRegular(tree, rel)
		return f, err
	}
	w := &zipWriter{c: c, name: "recordings-" + time.Now().UTC().Format("20060102-150405") + ".zip"}
	fs, err := s.store.WriteZip(c.Request().Context(), a, ids, open, w)
	if !w.sent && err != nil {
		return storeError(err)
	}
	for _, f := range fs { // what was sent (or begun) is a download
		if aerr := s.store.Audit(context.WithoutCancel(c.Request().Context()), models.AuditEntry{CustomerID: f.CustomerID, Actor: a, IP: c.RealIP(),
			Kind: models.AuditRecordingDownloaded, Object: f.Path, New: map[string]any{"zip": w.name}}); aerr != nil {
			s.log.Error("audit", "err", aerr)
		}
	}
	if err != nil {
		s.log.Warn("zip", "err", err)
	}
	return nil
}
