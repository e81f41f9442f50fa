package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
)

// Local is the Storage of a folder (the data folder: `--storage file`, the default). Every
// access goes through the Tree's os.Root; on top of that no symlink or special file is opened
// or listed, even one pointing inside the folder (it could point into another customer's).
type Local struct {
	tree *Tree
	dir  string
}

// NewLocal opens the folder dir as a Storage, creating it when missing.
func NewLocal(dir string) (*Local, error) {
	t, err := Open(dir)
	if err != nil {
		return nil, err
	}
	return &Local{tree: t, dir: dir}, nil
}

// Tree is the folder's tree, for the writers that work in place (the engine's spool).
func (l *Local) Tree() *Tree { return l.tree }

// Close releases the folder.
func (l *Local) Close() error { return l.tree.Close() }

func (l *Local) String() string { return "file:" + l.dir }

func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) (Info, error) {
	c, err := cleanKey(key)
	if err != nil {
		return Info{}, badKey("put", key)
	}
	if err := l.checkDirs("put", c); err != nil {
		return Info{}, err
	}
	f, tmp, err := l.tree.CreateTemp(c)
	if err != nil {
		return Info{}, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			_ = l.tree.RemoveTemp(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(ctxReader{ctx, r}, size+1))
	switch {
	case err != nil:
		return Info{}, err
	case n < size:
		return Info{}, ErrShort
	case n > size:
		return Info{}, ErrTooLarge
	}
	if err := f.Sync(); err != nil {
		return Info{}, err
	}
	st, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	if err := f.Close(); err != nil {
		return Info{}, err
	}
	if st.Size() != size {
		return Info{}, ErrShort
	}
	if err := l.tree.root.Rename(tmp, c); err != nil {
		return Info{}, err
	}
	ok = true
	return Info{Key: c, Size: size, ModTime: st.ModTime(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// checkDirs refuses a key whose folders include a symlink or a file.
func (l *Local) checkDirs(op, c string) error {
	parts := strings.Split(c, "/")
	for i := 1; i < len(parts); i++ {
		st, err := l.tree.root.Lstat(strings.Join(parts[:i], "/"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil // made by CreateTemp
		}
		if err != nil {
			return err
		}
		if !st.IsDir() {
			return notExist(op, c)
		}
	}
	return nil
}

// regular finds a regular file at c through folders that are real folders.
func (l *Local) regular(op, key string) (string, fs.FileInfo, error) {
	c, err := cleanKey(key)
	if err != nil {
		return "", nil, badKey(op, key)
	}
	parts := strings.Split(c, "/")
	for i := 1; i <= len(parts); i++ {
		st, err := l.tree.root.Lstat(strings.Join(parts[:i], "/"))
		if err != nil {
			return "", nil, notExist(op, c)
		}
		if i == len(parts) {
			if !st.Mode().IsRegular() {
				return "", nil, notExist(op, c)
			}
			return c, st, nil
		}
		if !st.IsDir() {
			return "", nil, notExist(op, c)
		}
	}
	return "", nil, notExist(op, c)
}

func (l *Local) Open(_ context.Context, key string) (Object, error) {
	c, _, err := l.regular("open", key)
	if err != nil {
		return nil, err
	}
	f, err := l.tree.root.OpenFile(c, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, notExist("open", c)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, notExist("open", c)
	}
	return localObject{f, Info{Key: c, Size: st.Size(), ModTime: st.ModTime()}}, nil
}

type localObject struct {
	*os.File
	info Info
}

func (o localObject) Info() Info { return o.info }

func (l *Local) Stat(_ context.Context, key string) (Info, error) {
	c, st, err := l.regular("stat", key)
	if err != nil {
		return Info{}, err
	}
	return Info{Key: c, Size: st.Size(), ModTime: st.ModTime()}, nil
}

func (l *Local) Delete(_ context.Context, key string) error {
	c, err := cleanKey(key)
	if err != nil {
		return badKey("delete", key)
	}
	if err := l.checkDirs("delete", c); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if st, err := l.tree.root.Lstat(c); err != nil || st.IsDir() {
		if err != nil && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil {
			return notExist("delete", c) // a folder is not an object
		}
		return err
	}
	if err := l.tree.root.Remove(c); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (l *Local) List(ctx context.Context, prefix string, recursive bool) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		p, err := cleanPrefix(prefix)
		if err != nil {
			yield(Info{}, badKey("list", prefix))
			return
		}
		dir := strings.TrimSuffix(p, "/")
		if dir != "" {
			if err := l.checkDirs("list", dir+"/x"); err != nil {
				return
			}
			if st, err := l.tree.root.Lstat(dir); err != nil || !st.IsDir() {
				return // no such folder: nothing under it, as in a bucket
			}
		}
		l.walk(ctx, dir, recursive, yield)
	}
}

// walk yields dir's entries in key order (a folder sorts as its name plus "/", as its
// objects' keys do in a bucket listing); false when the caller stopped.
func (l *Local) walk(ctx context.Context, dir string, recursive bool, yield func(Info, error) bool) bool {
	if err := ctx.Err(); err != nil {
		return yield(Info{}, err)
	}
	name := dir
	if name == "" {
		name = "."
	}
	d, err := l.tree.root.Open(name)
	if err != nil {
		return yield(Info{}, err)
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return yield(Info{}, err)
	}
	sortKey := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(sortKey(a), sortKey(b)) })
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue // temporary files of Put and uploads
		}
		key := path.Join(dir, e.Name())
		switch {
		case e.IsDir() && recursive:
			if !l.walk(ctx, key, true, yield) {
				return false
			}
		case e.IsDir():
			if !yield(Info{Key: key, Dir: true}, nil) {
				return false
			}
		case e.Type().IsRegular():
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			if !yield(Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil) {
				return false
			}
		}
	}
	return true
}
