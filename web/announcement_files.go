package web

import (
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/i18n"
	"callrec/media/audio"
	"callrec/models"
	"callrec/models/files"
	"callrec/templates"
)

// The announcements folder of the File Manager: uploads (streamed to a hidden temporary file in
// the customer's folder, probed, then renamed into place), the list with format details, one-click
// conversion to WAV 8-bit 16 kHz mono, playback and deletion. The JSON API and the pages share
// the same steps; only the answers differ.

// maxAnnouncement is the longest announcement accepted (upload and conversion).
func (s *Server) maxAnnouncement() time.Duration {
	if s.cfg.MaxAnnouncement > 0 {
		return s.cfg.MaxAnnouncement
	}
	return audio.DefaultMaxDuration
}

// openTree opens the data folder's tree for one request (an os.Root: cheap, and no name can
// leave it).
func (s *Server) openTree() (*files.Tree, error) { return files.Open(s.cfg.DataDir) }

// fileError is a problem with a user's file: an HTTP status, a snake_case code (the API's
// error code; "error."+code is its i18n key) and an English detail for the API.
type fileError struct {
	Status int
	Code   string
	Detail string
}

func (e *fileError) Error() string { return e.Code + ": " + e.Detail }

func newFileError(status int, code, detail string) error { return &fileError{status, code, detail} }

// audioFileError turns an audio.Error into a 422 with its code; other errors pass.
func audioFileError(err error) error {
	var ae *audio.Error
	if errors.As(err, &ae) {
		return &fileError{http.StatusUnprocessableEntity, ae.Code, ae.Error()}
	}
	if isTooLarge(err) {
		return &fileError{http.StatusRequestEntityTooLarge, "file_too_large", "the file is larger than the upload limit"}
	}
	return err
}

// asAPI turns a fileError or store error into the API's answer.
func asAPI(err error) error {
	var fe *fileError
	if errors.As(err, &fe) {
		return apiError(fe.Status, fe.Code, fe.Detail)
	}
	if errors.Is(err, models.ErrFileInUse) {
		return apiError(http.StatusConflict, "file_in_use", "the file is chosen for an announcement")
	}
	return apiStoreError(err)
}

// upload is one received file before it becomes a row.
type upload struct {
	name   string // the client's file name
	folder string // the optional "folder" field
}

// receiveUpload streams the multipart field "file" into a temporary file in the customer's
// announcements folder, probes it and renames it into place under a sanitised unique name.
// Whatever fails, no file is left behind.
func (s *Server) receiveUpload(c echo.Context, cust models.Customer) (models.File, error) {
	tree, err := s.openTree()
	if err != nil {
		return models.File{}, err
	}
	defer tree.Close()
	folder := models.AnnouncementFolder(cust.SubscriberID)
	sweepTemps(tree, folder, time.Now().Add(-staleTemp))
	tmp, tmpName, err := tree.CreateTemp(folder + "/upload")
	if err != nil {
		return models.File{}, err
	}
	committed := false
	defer func() {
		tmp.Close()
		if !committed {
			_ = tree.RemoveTemp(tmpName)
		}
	}()
	up, err := copyUpload(c.Request(), tmp)
	if err != nil {
		return models.File{}, audioFileError(err)
	}
	if f := strings.Trim(up.folder, "/"); f != "" && f != models.AnnouncementsRoot && f != folder {
		return models.File{}, newFileError(http.StatusUnprocessableEntity, "bad_folder", `uploads go to the folder "announcements"`)
	}
	format, err := probeTemp(tree, tmpName)
	if err != nil {
		return models.File{}, audioFileError(err)
	}
	if d := format.Duration(); d > s.maxAnnouncement() {
		return models.File{}, newFileError(http.StatusUnprocessableEntity, audio.CodeTooLong,
			"the announcement lasts "+d.Round(time.Second).String()+", the limit is "+s.maxAnnouncement().String())
	}
	size, err := tmp.Seek(0, io.SeekEnd)
	if err != nil {
		return models.File{}, err
	}
	if err := tmp.Sync(); err != nil {
		return models.File{}, err
	}
	name := files.SafeName(up.name)
	if ext := "." + format.Container; !strings.EqualFold(path.Ext(name), ext) && !(ext == ".ogg" && strings.EqualFold(path.Ext(name), ".oga")) {
		name += ext
	}
	rel, err := commitUnique(tree, tmpName, folder+"/"+name)
	if err != nil {
		return models.File{}, err
	}
	committed = true
	f := models.File{Name: path.Base(rel), Path: rel, Size: size, Codec: format.Codec, Bits: format.Bits,
		Rate: format.Rate, Channels: format.Channels, DurationMS: format.Duration().Milliseconds(), Ready: audio.IsTarget(format)}
	if err := s.store.CreateAnnouncementFile(c.Request().Context(), actorOf(c), c.RealIP(), cust, &f, "file.uploaded"); err != nil {
		_ = tree.Remove(rel)
		return models.File{}, err
	}
	return f, nil
}

// staleTemp is how old a temporary file must be to count as left over by a crash (an upload or
// conversion in progress keeps writing to its own).
const staleTemp = 24 * time.Hour

// tempRE matches the hidden temporary names files.Tree.CreateTemp makes.
var tempRE = regexp.MustCompile(`^\..+\.tmp[0-9]+$`)

// sweepTemps removes temporary files a crash left in folder, so they never pile up.
func sweepTemps(tree *files.Tree, folder string, before time.Time) {
	d, err := tree.Root().Open(folder)
	if err != nil {
		return
	}
	ents, _ := d.ReadDir(1000)
	d.Close()
	for _, en := range ents {
		if !en.Type().IsRegular() || !tempRE.MatchString(en.Name()) {
			continue
		}
		if info, err := en.Info(); err == nil && info.ModTime().Before(before) {
			_ = tree.RemoveTemp(folder + "/" + en.Name())
		}
	}
}

// probeTemp reads the format of a temporary file (CreateTemp opens it write-only).
func probeTemp(tree *files.Tree, tmpName string) (audio.Format, error) {
	r, err := tree.Root().Open(tmpName)
	if err != nil {
		return audio.Format{}, err
	}
	defer r.Close()
	return audio.Probe(r)
}

// commitUnique renames tmp to want, or to want with _2, _3, ... when that name is taken (also
// when another upload takes it between the check and the rename).
func commitUnique(tree *files.Tree, tmp, want string) (string, error) {
	for i := 0; i < 20; i++ {
		rel, err := tree.Unique(want)
		if err != nil {
			return "", err
		}
		if err := tree.Commit(tmp, rel); err == nil {
			return rel, nil
		} else if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fs.ErrExist
}

// copyUpload copies the multipart field "file" to w without holding it in memory, and reads the
// small "folder" field. When the form was already parsed (a form post whose CSRF token had to be
// read from the body), the parsed file is used.
func copyUpload(r *http.Request, w io.Writer) (upload, error) {
	var up upload
	if r.MultipartForm != nil {
		up.folder = r.FormValue("folder")
		fhs := r.MultipartForm.File["file"]
		if len(fhs) == 0 {
			return up, newFileError(http.StatusUnprocessableEntity, "no_file", `the multipart field "file" is missing`)
		}
		src, err := fhs[0].Open()
		if err != nil {
			return up, err
		}
		defer src.Close()
		up.name = fhs[0].Filename
		_, err = io.Copy(w, src)
		return up, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if ct != echo.MIMEMultipartForm {
		return up, newFileError(http.StatusUnprocessableEntity, "no_file", "send multipart/form-data with the field \"file\"")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return up, newFileError(http.StatusBadRequest, "bad_request", err.Error())
	}
	got := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if isTooLarge(err) {
				return up, err
			}
			return up, newFileError(http.StatusBadRequest, "bad_request", "malformed multipart body")
		}
		switch p.FormName() {
		case "file":
			if got {
				return up, newFileError(http.StatusUnprocessableEntity, "bad_request", "one file per upload")
			}
			got = true
			up.name = p.FileName()
			if _, err := io.Copy(w, p); err != nil {
				if isTooLarge(err) {
					return up, err
				}
				return up, newFileError(http.StatusBadRequest, "bad_request", "the upload broke off")
			}
		case "folder":
			b, _ := io.ReadAll(io.LimitReader(p, 300))
			up.folder = string(b)
		default:
			if _, err := io.Copy(io.Discard, p); err != nil {
				return up, err
			}
		}
		p.Close()
	}
	if !got {
		return up, newFileError(http.StatusUnprocessableEntity, "no_file", `the multipart field "file" is missing`)
	}
	return up, nil
}

// convertFile writes a WAV 8-bit 16 kHz mono copy of an announcement file beside it and records
// it as a new, ready file.
func (s *Server) convertFile(c echo.Context, id uint) (models.File, error) {
	ctx := c.Request().Context()
	a := actorOf(c)
	src, err := s.store.FileByID(ctx, a, id)
	if err != nil {
		return models.File{}, err
	}
	if src.Kind != models.KindAnnouncement {
		return models.File{}, models.ErrNotFound
	}
	cust, err := s.store.AnnouncementCustomer(ctx, a, src.CustomerID)
	if err != nil {
		return models.File{}, err
	}
	if src.Ready {
		return models.File{}, newFileError(http.StatusConflict, "already_ready", "the file is already WAV 8-bit 16 kHz mono")
	}
	tree, err := s.openTree()
	if err != nil {
		return models.File{}, err
	}
	defer tree.Close()
	in, err := tree.Open(src.Path)
	if err != nil {
		return models.File{}, err
	}
	defer in.Close()
	base := strings.TrimSuffix(src.Name, path.Ext(src.Name))
	name := base + ".wav"
	if strings.EqualFold(path.Ext(src.Name), ".wav") {
		name = base + "_16k8bit.wav"
	}
	want := src.Folder + "/" + name
	tmp, tmpName, err := tree.CreateTemp(want)
	if err != nil {
		return models.File{}, err
	}
	committed := false
	defer func() {
		tmp.Close()
		if !committed {
			_ = tree.RemoveTemp(tmpName)
		}
	}()
	if _, err := audio.Convert(in, tmp, audio.ConvertOptions{MaxDuration: s.maxAnnouncement()}); err != nil {
		return models.File{}, audioFileError(err)
	}
	out, err := probeTemp(tree, tmpName)
	if err != nil {
		return models.File{}, err
	}
	size, err := tmp.Seek(0, io.SeekEnd)
	if err != nil {
		return models.File{}, err
	}
	if err := tmp.Sync(); err != nil {
		return models.File{}, err
	}
	rel, err := commitUnique(tree, tmpName, want)
	if err != nil {
		return models.File{}, err
	}
	committed = true
	f := models.File{Name: path.Base(rel), Path: rel, Size: size, Codec: out.Codec, Bits: out.Bits, Rate: out.Rate,
		Channels: out.Channels, DurationMS: out.Duration().Milliseconds(), Ready: audio.IsTarget(out)}
	if err := s.store.CreateAnnouncementFile(ctx, a, c.RealIP(), cust, &f, "file.converted"); err != nil {
		_ = tree.Remove(rel)
		return models.File{}, err
	}
	return f, nil
}

// deleteFile removes an announcement file's row, then the file.
func (s *Server) deleteFile(c echo.Context, id uint) error {
	f, err := s.store.DeleteAnnouncementFile(c.Request().Context(), actorOf(c), c.RealIP(), id)
	if err != nil {
		return err
	}
	tree, err := s.openTree()
	if err != nil {
		return err
	}
	defer tree.Close()
	if err := tree.Remove(f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Error("remove announcement file", "path", f.Path, "err", err)
	}
	return nil
}

// audioType is the Content-Type of an audio file by its name.
func audioType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".wav":
		return "audio/wav"
	case ".mp3":
		return "audio/mpeg"
	case ".ogg", ".oga":
		return "audio/ogg"
	case ".flac":
		return "audio/flac"
	}
	return "application/octet-stream"
}

// serveTreeFile streams a file of the tree with range support (the player seeks).
func (s *Server) serveTreeFile(c echo.Context, rel, name string) error {
	tree, err := s.openTree()
	if err != nil {
		return err
	}
	defer tree.Close()
	f, st, err := openRegular(tree, rel) // a planted symlink is refused too
	if err != nil {
		return err
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, audioType(name))
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("inline", map[string]string{"filename": name}))
	h.Set("Cache-Control", "private, no-cache")
	http.ServeContent(c.Response(), c.Request(), name, st.ModTime(), f)
	return nil
}

// fileContent serves an announcement file.
func (s *Server) fileContent(c echo.Context, id uint) error {
	f, err := s.store.FileByID(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	if f.Kind != models.KindAnnouncement {
		return models.ErrNotFound
	}
	return s.serveTreeFile(c, f.Path, f.Name)
}

// --- pages ---

func (s *Server) announcementFilesPage(c echo.Context) error {
	return s.renderFilesPage(c, http.StatusOK, "")
}

func (s *Server) renderFilesPage(c echo.Context, status int, errKey string) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	fs, err := s.store.AnnouncementFiles(ctx, a)
	if err != nil {
		return err
	}
	props := templates.AnnouncementFilesProps{
		Page: s.page(c, "announce.files_title", "files"), Files: fs, CanEdit: a.IsAdmin(),
		CanUpload: a.IsAdmin() && !a.IsPlatformAdmin(), MaxUploadMB: s.cfg.MaxUpload / 1_000_000, MaxUploadBytes: s.cfg.MaxUpload,
		MaxMinutes: int(s.maxAnnouncement().Minutes()), Error: errKey, UploadURL: "/files/announcements",
	}
	if a.IsPlatformAdmin() {
		// The platform admin works in one customer's folder at a time, chosen on the page.
		if props.Customers, err = s.store.Customers(ctx, a); err != nil {
			return err
		}
		if cid := queryCustomer(c); cid != 0 {
			props.Customer, props.CanUpload = cid, true
			props.UploadURL += "?customer=" + strconv.FormatUint(uint64(cid), 10)
			props.Files = nil
			for _, f := range fs {
				if f.CustomerID == cid {
					props.Files = append(props.Files, f)
				}
			}
		}
	}
	return render(c, status, templates.AnnouncementFiles(props))
}

// queryCustomer is the "customer" query parameter (the platform admin's choice), 0 when absent.
func queryCustomer(c echo.Context) uint {
	n, err := strconv.ParseUint(c.QueryParam("customer"), 10, 32)
	if err != nil {
		return 0
	}
	return uint(n)
}

// wantsJSON is true for the page's script, which uploads with XMLHttpRequest to show progress.
func wantsJSON(c echo.Context) bool {
	return strings.Contains(c.Request().Header.Get(echo.HeaderAccept), echo.MIMEApplicationJSON)
}

// pageFileError answers a failed file action on a page: JSON with a localized message for the
// upload script, else the page again with the error.
func (s *Server) pageFileError(c echo.Context, err error) error {
	status, code := 0, ""
	var fe *fileError
	switch {
	case errors.As(err, &fe):
		status, code = fe.Status, fe.Code
	case errors.Is(err, models.ErrFileInUse):
		status, code = http.StatusConflict, "file_in_use"
	default:
		if errs, ok := formErrors(err); ok {
			for _, k := range errs {
				status, code = http.StatusUnprocessableEntity, codeOf(k)
			}
		} else {
			return storeError(err)
		}
	}
	if wantsJSON(c) {
		msg := i18n.T(c.Request().Context(), "error."+code)
		return c.JSON(status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	return s.renderFilesPage(c, status, "error."+code)
}

func (s *Server) announcementUpload(c echo.Context) error {
	ctx := c.Request().Context()
	cust, err := s.store.AnnouncementCustomer(ctx, actorOf(c), queryCustomer(c))
	if err != nil {
		return s.pageFileError(c, err)
	}
	f, err := s.receiveUpload(c, cust)
	if err != nil {
		return s.pageFileError(c, err)
	}
	s.flash(c, "announce.uploaded") // the script reloads the page, which shows it
	if wantsJSON(c) {
		return c.JSON(http.StatusCreated, toFileJSON(f))
	}
	return redirect(c, c.Request().URL.RequestURI())
}

func (s *Server) announcementFileContent(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	return storeError(s.fileContent(c, id))
}

func (s *Server) announcementConvert(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.convertFile(c, id); err != nil {
		return s.pageFileError(c, err)
	}
	s.flash(c, "announce.converted")
	return redirect(c, "/files/announcements")
}

func (s *Server) announcementDelete(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := s.deleteFile(c, id); err != nil {
		return s.pageFileError(c, err)
	}
	s.flash(c, "announce.deleted")
	return redirect(c, "/files/announcements")
}

// --- API ---

func (s *Server) apiFileUpload(c echo.Context) error {
	var cid uint
	if v := c.QueryParam("customer"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return apiNotFound()
		}
		cid = uint(n)
	}
	cust, err := s.store.AnnouncementCustomer(c.Request().Context(), actorOf(c), cid)
	if err != nil {
		return asAPI(err)
	}
	f, err := s.receiveUpload(c, cust)
	if err != nil {
		return asAPI(err)
	}
	return c.JSON(http.StatusCreated, toFileJSON(f))
}

// apiFileContent serves any file of the tree: recordings through the recordings' own handler
// (which checks the permission and writes the "listened" audit event).
func (s *Server) apiFileContent(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	f, err := s.store.FileByID(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return asAPI(err)
	}
	if f.Kind == models.KindRecording {
		return s.apiRecordingAudio(c)
	}
	return asAPI(s.fileContent(c, id))
}

func (s *Server) apiFileConvert(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	f, err := s.convertFile(c, id)
	if err != nil {
		return asAPI(err)
	}
	return c.JSON(http.StatusCreated, toFileJSON(f))
}

func (s *Server) apiFileDelete(c echo.Context) error {
	id, err := apiID(c, "id")
	if err != nil {
		return err
	}
	if err := s.deleteFile(c, id); err != nil {
		return asAPI(err)
	}
	return c.NoContent(http.StatusNoContent)
}
