package web

import (
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/models/files"
)

// dataTree is the data folder's file tree (recordings, announcements), opened per request: an
// os.Root is cheap, and no name, ".." or symlink reaches outside it.
type dataTree struct{ dir string }

// open opens the tree for one request; close it when done.
func (t dataTree) open() (*files.Tree, error) { return files.Open(t.dir) }

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

// serve streams a file of the tree with range support (the player seeks).
func (t dataTree) serve(c echo.Context, rel, name string) error {
	tree, err := t.open()
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

// remover is a function that removes a file of the tree (for the store's deletions) and the
// function that closes the tree afterwards.
func (t dataTree) remover() (func(string) error, func(), error) {
	tree, err := t.open()
	if err != nil {
		return nil, nil, err
	}
	return tree.Remove, func() { tree.Close() }, nil
}
