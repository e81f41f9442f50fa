// Package files is the on-disk tree under the data folder: recordings
// (call_recording/<subscriberId>/<startNumber>/...) and announcements
// (announcements/<subscriberId>/...). Every access goes through an os.Root, so no name, "..",
// or symlink can reach outside the tree.
package files

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"unicode"
)

// Top-level folders of the tree.
const (
	RecordingsDir    = "call_recording"
	AnnouncementsDir = "announcements"
)

// Tree is the data folder's file tree.
type Tree struct {
	root *os.Root
}

// Open opens the tree at dir, creating it when missing.
func Open(dir string) (*Tree, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &Tree{root: r}, nil
}

// Root exposes the os.Root for read-only servers (FTP, SFTP) that need their own view.
func (t *Tree) Root() *os.Root { return t.root }

// Close releases the tree.
func (t *Tree) Close() error { return t.root.Close() }

// ErrBadPath is returned for paths that are not clean, relative and inside the tree.
var ErrBadPath = errors.New("files: path outside the tree")

// Clean validates a slash-separated relative path: no "..", no absolute path, no empty or hidden
// parts. It returns the cleaned path.
func Clean(rel string) (string, error) {
	if rel == "" || strings.ContainsRune(rel, '\\') || strings.ContainsRune(rel, 0) {
		return "", ErrBadPath
	}
	c := path.Clean(rel)
	if c != rel && c+"/" != rel || path.IsAbs(c) || c == "." {
		return "", ErrBadPath
	}
	for _, part := range strings.Split(c, "/") {
		if part == "" || part == "." || part == ".." || strings.HasPrefix(part, ".") {
			return "", ErrBadPath
		}
	}
	return c, nil
}

// Open opens a file for reading.
func (t *Tree) Open(rel string) (*os.File, error) {
	c, err := Clean(rel)
	if err != nil {
		return nil, err
	}
	return t.root.Open(c)
}

// Stat describes a file.
func (t *Tree) Stat(rel string) (fs.FileInfo, error) {
	c, err := Clean(rel)
	if err != nil {
		return nil, err
	}
	return t.root.Stat(c)
}

// Create makes a new file (never overwriting), creating its folders.
func (t *Tree) Create(rel string) (*os.File, error) {
	c, err := Clean(rel)
	if err != nil {
		return nil, err
	}
	if err := t.root.MkdirAll(path.Dir(c), 0o750); err != nil {
		return nil, err
	}
	return t.root.OpenFile(c, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
}

// CreateTemp makes a hidden temporary file in rel's folder; Commit renames it into place.
func (t *Tree) CreateTemp(rel string) (*os.File, string, error) {
	c, err := Clean(rel)
	if err != nil {
		return nil, "", err
	}
	dir := path.Dir(c)
	if err := t.root.MkdirAll(dir, 0o750); err != nil {
		return nil, "", err
	}
	for i := 0; ; i++ {
		tmp := path.Join(dir, "."+path.Base(c)+".tmp"+itoa(i))
		f, err := t.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if errors.Is(err, fs.ErrExist) && i < 100 {
			continue
		}
		return f, tmp, err
	}
}

// Commit renames a temporary file to rel (which must not exist yet).
func (t *Tree) Commit(tmp, rel string) error {
	c, err := Clean(rel)
	if err != nil {
		return err
	}
	if _, err := t.root.Stat(c); err == nil {
		return fs.ErrExist
	}
	return t.root.Rename(tmp, c)
}

// RemoveTemp deletes a temporary file made by CreateTemp.
func (t *Tree) RemoveTemp(tmp string) error {
	dir, err := Clean(path.Dir(tmp))
	if err != nil || !strings.HasPrefix(path.Base(tmp), ".") || strings.Contains(path.Base(tmp), "/") {
		return ErrBadPath
	}
	return t.root.Remove(path.Join(dir, path.Base(tmp)))
}

// Remove deletes a file.
func (t *Tree) Remove(rel string) error {
	c, err := Clean(rel)
	if err != nil {
		return err
	}
	return t.root.Remove(c)
}

// Unique returns rel, or rel with _2, _3, ... before the extension, whichever does not exist.
func (t *Tree) Unique(rel string) (string, error) {
	c, err := Clean(rel)
	if err != nil {
		return "", err
	}
	ext := path.Ext(c)
	base := strings.TrimSuffix(c, ext)
	for i := 1; i < 10000; i++ {
		cand := c
		if i > 1 {
			cand = base + "_" + itoa(i) + ext
		}
		if _, err := t.root.Stat(cand); errors.Is(err, fs.ErrNotExist) {
			return cand, nil
		}
	}
	return "", fs.ErrExist
}

// SafeName turns an uploaded file name into a safe single path element: letters, digits, dot,
// dash and underscore; no leading dot; at most 100 bytes; never empty.
func SafeName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)), r == '.', r == '-', r == '_':
			b.WriteRune(r)
		case unicode.IsSpace(r):
			b.WriteByte('_')
		case r >= 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteString(asciiFold(r))
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	for strings.Contains(s, "..") {
		s = strings.ReplaceAll(s, "..", ".")
	}
	if len(s) > 100 {
		ext := path.Ext(s)
		if len(ext) > 10 {
			ext = ""
		}
		s = s[:100-len(ext)] + ext
	}
	if s == "" || s == "." {
		s = "file"
	}
	return s
}

func asciiFold(r rune) string {
	switch r {
	case 'ä', 'Ä':
		return "ae"
	case 'ö', 'Ö':
		return "oe"
	case 'ü', 'Ü':
		return "ue"
	case 'ß':
		return "ss"
	case 'é', 'è', 'ê', 'ë', 'É', 'È':
		return "e"
	case 'à', 'â', 'À', 'Â':
		return "a"
	case 'ç', 'Ç':
		return "c"
	case 'ô', 'Ô':
		return "o"
	case 'î', 'ï':
		return "i"
	case 'ù', 'û':
		return "u"
	}
	return "_"
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}
