package web

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/models"
	"callrec/models/files"
	"callrec/templates"
)

// recordingsHandler is the File Browser, the recordings' pages, audio and API, and the file
// tree API.
type recordingsHandler struct {
	store *models.Store
	tree  dataTree
	views views
	log   *slog.Logger
	lists *listViews // what is made of listings: the File Browser's lists, the API's answers
	// secureCookies: Config.SecureCookies, for wroteCookie.
	secureCookies bool
}

func (h *recordingsHandler) filesRoot(c echo.Context) error {
	subs, err := h.store.SubFolders(c.Request().Context(), actorOf(c), "")
	if err != nil {
		return err
	}
	p := templates.FilesProps{Page: h.views.page(c, "files.title", "files"), Crumbs: []templates.Crumb{{Name: i18n.T(c.Request().Context(), "files.root")}}}
	for _, f := range subs {
		p.Folders = append(p.Folders, templates.FolderLink{Name: f.Name, Href: "/files/" + f.Path})
	}
	return render(c, http.StatusOK, templates.Files(p))
}

// nameCrumbs names a recordings folder's breadcrumbs for people: the customer's folder by the
// customer's name, the pool's folder (its start number) by the pool's name.
func nameCrumbs(cs []templates.Crumb, owner models.Customer, pools map[string]string) {
	for i := range cs {
		switch i {
		case 2:
			if owner.Name != "" {
				cs[i].Name = owner.Name + " (" + cs[i].Name + ")"
			}
		case 3:
			if n := pools[cs[i].Name]; n != "" {
				cs[i].Name = n
			}
		}
	}
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
		return "", models.ErrNotFound
	}
	rel = strings.TrimSuffix(rel, "/")
	folder := models.RecordingsRoot
	if rel != "" {
		folder += "/" + rel
	}
	if c, err := files.Clean(folder); err != nil || c != folder || strings.Count(folder, "/") > 2 {
		return "", models.ErrNotFound
	}
	return folder, nil
}

func (h *recordingsHandler) recordingFolder(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	folder, err := folderParam(c)
	if err != nil {
		return err
	}
	p := templates.FilesProps{Page: h.views.page(c, "files.title", "files"), Crumbs: crumbs(ctx, folder)}
	depth := strings.Count(folder, "/")
	var owner models.Customer
	var pools map[string]string
	if depth > 0 {
		if owner, err = h.store.FolderOwner(ctx, a, folder); err != nil {
			return err
		}
		if pools, err = h.store.PoolNamesByStart(ctx, a, owner.ID); err != nil {
			return err
		}
		nameCrumbs(p.Crumbs, owner, pools)
	}
	if depth < 2 {
		subs, err := h.store.SubFolders(ctx, a, folder)
		if err != nil {
			return err
		}
		for _, f := range subs {
			l := templates.FolderLink{Name: f.Name, Href: "/files/" + f.Path + "/"}
			if depth == 1 && pools[f.Name] != "" {
				l.Label = pools[f.Name] + " (" + f.Name + ")"
			}
			p.Folders = append(p.Folders, l)
		}
	}
	if depth == 0 {
		return render(c, http.StatusOK, templates.Files(p))
	}
	list, status, err := h.recordingList(c, a, owner, folder, pools)
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
	var err error
	if q.From, err = parseDay(f.From, loc, false); err != nil {
		errs["from"] = models.ErrDateInvalid.Key
	}
	if q.To, err = parseDay(f.To, loc, true); err != nil {
		errs["to"] = models.ErrDateInvalid.Key
	}
	if len(f.Number) > 32 {
		errs["number"] = models.ErrNumberFilter.Key
	}
	if n, err := strconv.ParseUint(f.Pool, 10, 32); err == nil {
		q.PoolID = uint(n)
	}
	return q, errs
}

// url is the list's URL with the filter (empty values are left out).
func (f listFilter) url(base string) string {
	v := url.Values{}
	for k, x := range map[string]string{"cursor": f.Cursor, "from": f.From, "number": f.Number, "order": f.Order,
		"pool": f.Pool, "sort": f.Sort, "to": f.To} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

// recordingList is a folder's list of recordings rendered (filters, sortable header, rows,
// bulk actions, pager), kept in h.lists under everything it shows besides the listing (see
// listViews): a page viewed again sends the same bytes. Lists with field errors are not kept.
func (h *recordingsHandler) recordingList(c echo.Context, a models.Actor, owner models.Customer, folder string, poolNames map[string]string) (templates.HTML, int, error) {
	ctx := c.Request().Context()
	loc := owner.Location()
	f := listFilterOf(c)
	q, errs := f.query(loc)
	q.Brief = true // the list's columns only
	q.Fresh = wroteRecently(c)
	base := "/files/" + folder + "/"
	if strings.Count(folder, "/") == 2 {
		q.Folder = folder
	} else {
		q.CustomerID = owner.ID // the subscriber's folder searches all its pools
	}
	var pools []templates.PoolChoice
	if q.Folder == "" { // a pool's folder is one pool: the choice is only for the subscriber's folder
		all, err := h.store.Pools(ctx, a)
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
	page, err := h.store.Browse(ctx, a, q)
	if errors.Is(err, models.ErrBadQuery) { // a stale or edited link: start over
		q.Cursor, q.Sort, q.Desc = "", "date", true
		f.Cursor, f.Sort, f.Order = "", "", ""
		page, err = h.store.Browse(ctx, a, q)
	}
	if err != nil {
		return nil, 0, err
	}
	key := ""
	if len(errs) == 0 {
		key = viewKey("list", page, listViewParts(i18n.Lang(ctx), loc, a.MayDeleteRecordings(), base, f, pools, poolNames)...)
	}
	html, err := h.lists.view(key, func() ([]byte, error) {
		return h.renderList(ctx, a, owner, folder, base, f, errs, pools, poolNames, page)
	})
	return html, status, err
}

// renderList renders a page's list (recordingList's view).
func (h *recordingsHandler) renderList(ctx context.Context, a models.Actor, owner models.Customer, folder, base string, f listFilter,
	errs templates.Errors, pools []templates.PoolChoice, poolNames map[string]string, page models.BrowsePage) ([]byte, error) {
	loc := owner.Location()
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
	ids := make([]uint, len(page.Files))
	for i, f := range page.Files {
		l.Rows[i] = recordingRow(f, loc, i18n.Lang(ctx))
		ids[i] = f.ID
	}
	if err := h.rowFacts(ctx, a, folder, poolNames, page.Files, l.Rows, ids); err != nil {
		return nil, err
	}
	return templates.RecordingListHTML(ctx, l)
}

// rowFacts adds to a page of rows what the files table does not hold: the pool's name (from the
// folder, or in a subscriber's folder from each file's name), the recorded time and the caller's
// notice or the callee's #1 (two queries for the page).
func (h *recordingsHandler) rowFacts(ctx context.Context, a models.Actor, folder string, pools map[string]string,
	fs []models.File, rows []templates.RecordingRow, ids []uint) error {
	facts, err := h.store.RecordingFactsOf(ctx, a, ids)
	if err != nil {
		return err
	}
	folderPool := ""
	if parts := strings.Split(folder, "/"); len(parts) == 3 {
		folderPool = pools[parts[2]]
	}
	for i := range rows {
		r := &rows[i]
		r.Pool = folderPool
		if r.Pool == "" {
			if p, ok := models.ParseRecName(fs[i].Name, time.UTC); ok {
				r.Pool = pools[p.StartNumber]
			}
		}
		fa, ok := facts[r.ID]
		if !ok || !fa.Recorded {
			continue
		}
		r.Recorded = fmtDuration(fa.RecordedMS)
		switch {
		case fa.Stopped:
			r.Consent = "files.consent_stopped"
		case fa.Told:
			r.Consent = "files.consent_told"
		default:
			r.Consent = "files.consent_none"
		}
	}
	return nil
}

// listViewParts are the values a rendered list shows besides its page (viewKey): the language,
// the time zone, the delete permission, the folder, the filter as typed, the pool choice and the
// pools' names (rows and choice name pools).
func listViewParts(lang string, loc *time.Location, canDelete bool, base string, f listFilter,
	pools []templates.PoolChoice, names map[string]string) []string {
	parts := []string{lang, loc.String(), strconv.FormatBool(canDelete), base,
		f.Sort, f.Order, f.From, f.To, f.Number, f.Pool, f.Cursor, strconv.Itoa(len(pools))}
	for _, p := range pools {
		parts = append(parts, strconv.FormatUint(uint64(p.ID), 10)+" "+strconv.FormatBool(p.Selected)+" "+p.Label)
	}
	for _, start := range slices.Sorted(maps.Keys(names)) {
		parts = append(parts, start+"="+names[start])
	}
	return parts
}
