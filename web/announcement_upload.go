package web

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/media/audio"
	"callrec/models"
	"callrec/models/files"
)

// upload is one received file before it becomes a row.
type upload struct {
	name   string // the client's file name
	folder string // the optional "folder" field
}

// receiveUpload streams the multipart field "file" into a temporary file in the customer's
// announcements folder, probes it and renames it into place under a sanitised unique name.
// Whatever fails, no file is left behind.
func (h *announcementsHandler) receiveUpload(c echo.Context, cust models.Customer) (models.File, error) {
	tree, err := h.tree.open()
	if err != nil {
		return models.File{}, err
	}
	defer tree.Close()
	folder := models.AnnouncementFolder(cust.SubscriberID)
	sweepTemps(tree, folder, time.Now().Add(-staleTemp))
	tmp, err := h.tree.createTemp(tree, folder+"/upload")
	if err != nil {
		return models.File{}, err
	}
	defer tmp.release()
	up, err := copyUpload(c.Request(), tmp)
	if isTooLarge(err) {
		return models.File{}, models.ErrFileTooLarge
	} else if err != nil {
		return models.File{}, err
	}
	if f := strings.Trim(up.folder, "/"); f != "" && f != models.AnnouncementsRoot && f != folder {
		return models.File{}, models.ErrBadFolder
	}
	format, err := tmp.probe()
	if err != nil {
		return models.File{}, err
	}
	if d := format.Duration(); d > h.maxAnnouncement() {
		return models.File{}, models.ErrAudioTooLong.With("the announcement lasts " + d.Round(time.Second).String() +
			", the limit is " + h.maxAnnouncement().String())
	}
	name := files.SafeName(up.name)
	if ext := "." + format.Container; !strings.EqualFold(path.Ext(name), ext) && !(ext == ".ogg" && strings.EqualFold(path.Ext(name), ".oga")) {
		name += ext
	}
	rel, size, err := tmp.commit(c.Request().Context(), folder+"/"+name)
	if err != nil {
		return models.File{}, err
	}
	return h.addFile(c, cust, rel, size, format, "file.uploaded")
}

// addFile records a published announcement file; the file goes again when its row cannot be
// written.
func (h *announcementsHandler) addFile(c echo.Context, cust models.Customer, rel string, size int64,
	format audio.Format, event string) (models.File, error) {
	f := models.File{Name: path.Base(rel), Path: rel, Size: size, Codec: format.Codec, Bits: format.Bits,
		Rate: format.Rate, Channels: format.Channels, DurationMS: format.Duration().Milliseconds(), Ready: audio.IsTarget(format)}
	ctx := c.Request().Context()
	if err := h.store.CreateAnnouncementFile(ctx, actorOf(c), c.RealIP(), cust, &f, event); err != nil {
		_ = h.tree.remove(context.WithoutCancel(ctx), rel)
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

// copyUpload copies the multipart field "file" to w without holding it in memory, and reads the
// small "folder" field. The body is streamed, never parsed into a form: a parsed form keeps
// large files in temporary files.
func copyUpload(r *http.Request, w io.Writer) (upload, error) {
	var up upload
	ct, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if ct != echo.MIMEMultipartForm {
		return up, models.ErrNoFile.With(`send multipart/form-data with the field "file"`)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return up, models.ErrBadRequest.With(err.Error())
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
			return up, models.ErrBadRequest.With("malformed multipart body")
		}
		switch p.FormName() {
		case "file":
			if got {
				return up, models.ErrOneFile
			}
			got = true
			up.name = p.FileName()
			if _, err := io.Copy(w, p); err != nil {
				if isTooLarge(err) {
					return up, err
				}
				return up, models.ErrBadRequest.With("the upload broke off")
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
		return up, models.ErrNoFile.With(`the multipart field "file" is missing`)
	}
	return up, nil
}

// convertFile writes a WAV 8-bit 16 kHz mono copy of an announcement file beside it and records
// it as a new, ready file.
func (h *announcementsHandler) convertFile(c echo.Context, id uint) (models.File, error) {
	ctx := c.Request().Context()
	a := actorOf(c)
	src, err := h.store.FileByID(ctx, a, id)
	if err != nil {
		return models.File{}, err
	}
	if src.Kind != models.KindAnnouncement {
		return models.File{}, models.ErrNotFound
	}
	cust, err := h.store.AnnouncementCustomer(ctx, a, src.CustomerID)
	if err != nil {
		return models.File{}, err
	}
	if src.Ready {
		return models.File{}, models.ErrAlreadyReady
	}
	tree, err := h.tree.open()
	if err != nil {
		return models.File{}, err
	}
	defer tree.Close()
	in, err := h.tree.object(ctx, src.Path)
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
	tmp, err := h.tree.createTemp(tree, want)
	if err != nil {
		return models.File{}, err
	}
	defer tmp.release()
	if _, err := audio.Convert(in, tmp, audio.ConvertOptions{MaxDuration: h.maxAnnouncement()}); err != nil {
		return models.File{}, err
	}
	out, err := tmp.probe()
	if err != nil {
		return models.File{}, err
	}
	rel, size, err := tmp.commit(ctx, want)
	if err != nil {
		return models.File{}, err
	}
	return h.addFile(c, cust, rel, size, out, "file.converted")
}

// deleteFile removes an announcement file's row, then the file.
func (h *announcementsHandler) deleteFile(c echo.Context, id uint) error {
	f, err := h.store.DeleteAnnouncementFile(c.Request().Context(), actorOf(c), c.RealIP(), id)
	if err != nil {
		return err
	}
	if err := h.tree.remove(c.Request().Context(), f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		h.log.Error("remove announcement file", "path", f.Path, "err", err)
	}
	return nil
}
