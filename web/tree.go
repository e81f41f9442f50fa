package web

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"callrec/media/audio"
	"callrec/models"
	"callrec/models/files"
)

// dataTree is where recordings and announcements are: st, the storage (the data folder, or a
// bucket seen together with the node's spool), through which every read, write and delete goes;
// and the data folder's own tree, where uploads and conversions are written before they go
// into the storage. No key, ".." or symlink reaches outside either.
type dataTree struct {
	dir string
	st  files.Storage
}

func newDataTree(dir string, st files.Storage) dataTree {
	if st == nil {
		l, err := files.NewLocal(dir)
		if err == nil {
			st = l
		}
	}
	return dataTree{dir: dir, st: st}
}

// open opens the data folder's tree for one request's temporary files; close it when done.
func (t dataTree) open() (*files.Tree, error) { return files.Open(t.dir) }

// local reports whether the storage is the data folder itself.
func (t dataTree) local() bool {
	_, ok := t.st.(*files.Local)
	return ok
}

// object opens a stored file; a missing or unnamable one is models.ErrNotFound.
func (t dataTree) object(ctx context.Context, rel string) (files.Object, error) {
	if t.st == nil {
		return nil, errors.New("web: no storage")
	}
	o, err := t.st.Open(ctx, rel)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, files.ErrBadPath) {
		return nil, models.ErrNotFound
	}
	return o, err
}

// remove deletes a stored file (one already gone is fine).
func (t dataTree) remove(ctx context.Context, rel string) error {
	if t.st == nil {
		return errors.New("web: no storage")
	}
	return t.st.Delete(ctx, rel)
}

// publish puts the finished temporary file tmp of tree under want, or under want with _2, _3,
// ... when that name is taken, and returns the name. In the data folder it is a rename; with a
// bucket the file is uploaded (and checked) and the temporary file removed.
func (t dataTree) publish(ctx context.Context, tree *files.Tree, tmp, want string) (string, error) {
	if t.local() {
		return commitUnique(tree, tmp, want)
	}
	defer tree.RemoveTemp(tmp)
	rel, err := t.unique(ctx, want)
	if err != nil {
		return "", err
	}
	f, err := tree.Root().Open(tmp)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if _, err := t.st.Put(ctx, rel, f, st.Size()); err != nil {
		return "", err
	}
	return rel, nil
}

// unique is want, or want with _2, _3, ... before the extension, whichever the storage lacks.
func (t dataTree) unique(ctx context.Context, want string) (string, error) {
	ext := path.Ext(want)
	base := strings.TrimSuffix(want, ext)
	for i := 1; i < 1000; i++ {
		cand := want
		if i > 1 {
			cand = base + "_" + strconv.Itoa(i) + ext
		}
		_, err := t.st.Stat(ctx, cand)
		if errors.Is(err, fs.ErrNotExist) {
			return cand, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", fs.ErrExist
}

// tempFile is a hidden temporary file in the data folder being written (an upload, a
// conversion, a text spoken): commit publishes it under its final, unique name; release removes
// it unless it was published, so whatever fails before, nothing is left behind.
type tempFile struct {
	*os.File
	data      dataTree
	tree      *files.Tree
	name      string
	committed bool
}

// createTemp makes a temporary file in want's folder of tree (the data folder's, opened).
func (t dataTree) createTemp(tree *files.Tree, want string) (*tempFile, error) {
	f, name, err := tree.CreateTemp(want)
	if err != nil {
		return nil, err
	}
	return &tempFile{File: f, data: t, tree: tree, name: name}, nil
}

// probe reads the audio format of what was written (the file itself is open write-only).
func (t *tempFile) probe() (audio.Format, error) {
	r, err := t.tree.Root().Open(t.name)
	if err != nil {
		return audio.Format{}, err
	}
	defer r.Close()
	return audio.Probe(r)
}

// commit syncs the file and publishes it under want (or want with _2, _3, ...); it returns the
// name and the size.
func (t *tempFile) commit(ctx context.Context, want string) (string, int64, error) {
	size, err := t.Seek(0, io.SeekEnd)
	if err != nil {
		return "", 0, err
	}
	if err := t.Sync(); err != nil {
		return "", 0, err
	}
	rel, err := t.data.publish(ctx, t.tree, t.name, want)
	if err != nil {
		return "", 0, err
	}
	t.committed = true
	return rel, size, nil
}

func (t *tempFile) release() {
	t.Close()
	if !t.committed {
		_ = t.tree.RemoveTemp(t.name)
	}
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

// serve streams a stored file with range support (the player seeks; from a bucket each range
// is a ranged GET).
func (t dataTree) serve(c echo.Context, rel, name string) error {
	f, err := t.object(c.Request().Context(), rel) // a planted symlink is refused too
	if err != nil {
		return err
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, audioType(name))
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("inline", map[string]string{"filename": name}))
	h.Set("Cache-Control", "private, no-store")
	http.ServeContent(c.Response(), c.Request(), name, f.Info().ModTime, f)
	return nil
}

// remover is a function that removes a stored file (for the store's deletions).
func (t dataTree) remover(ctx context.Context) func(string) error {
	return func(rel string) error { return t.remove(ctx, rel) }
}
