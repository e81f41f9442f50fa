package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"path"
	"strings"
	"time"
)

// Storage is where recordings and announcements are kept: the data folder (Local) or an
// S3-compatible bucket (S3). Keys are slash-separated relative paths that pass Clean: no "..",
// no absolute path, no hidden part, so a key can never name anything outside the storage, and
// the hidden names a backend uses for its own temporary objects are never reachable.
type Storage interface {
	// Put stores size bytes read from r under key, replacing what was there. The object
	// becomes visible only once whole, and Put returns only after checking that what the
	// backend holds is what was read (size, and a checksum where the backend gives one).
	Put(ctx context.Context, key string, r io.Reader, size int64) (Info, error)
	// Open opens an object for reading; ranged reads (Seek, ReadAt) fetch only what they read.
	Open(ctx context.Context, key string) (Object, error)
	// Stat describes an object (fs.ErrNotExist when there is none).
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes an object; an object already gone is not an error.
	Delete(ctx context.Context, key string) error
	// List yields the objects under the folder prefix ("" for all) in key order: all of them
	// when recursive, else the folder's own objects and its sub-folders (Info.Dir).
	List(ctx context.Context, prefix string, recursive bool) iter.Seq2[Info, error]
	// String names the storage for logs, without secrets.
	String() string
}

// Info describes an object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// SHA256 is the hex SHA-256 of the content, set by Put (which read it all).
	SHA256 string
	// ETag is the backend's version tag (S3 only).
	ETag string
	// Dir marks a sub-folder in a non-recursive listing (Size and ModTime are zero).
	Dir bool
}

// Name is the last part of the key.
func (i Info) Name() string { return path.Base(i.Key) }

// Object is an open object. Reads past the end give io.EOF.
type Object interface {
	io.ReadSeekCloser
	io.ReaderAt
	Info() Info
}

// ErrTooLarge is a Put whose reader gave more than the size announced, ErrShort one that gave less.
var (
	ErrShort    = errors.New("files: the reader ended before the announced size")
	ErrTooLarge = errors.New("files: the reader gave more than the announced size")
)

// cleanKey validates an object key: Clean, and already clean (no trailing slash: that names a
// folder, not an object).
func cleanKey(key string) (string, error) {
	c, err := Clean(key)
	if err != nil || c != key {
		return "", ErrBadPath
	}
	return c, nil
}

// cleanPrefix validates a folder prefix for List and Scope: "" or a clean path, with or without
// a trailing slash; it returns "" or the path with one trailing slash.
func cleanPrefix(prefix string) (string, error) {
	if prefix == "" {
		return "", nil
	}
	c, err := Clean(strings.TrimSuffix(prefix, "/"))
	if err != nil {
		return "", err
	}
	return c + "/", nil
}

func notExist(op, key string) error { return &fs.PathError{Op: op, Path: key, Err: fs.ErrNotExist} }

func badKey(op, key string) error {
	return &fs.PathError{Op: op, Path: fmt.Sprintf("%q", key), Err: ErrBadPath}
}

// Scope is the part of s under the folder prefix, with keys relative to it: what one customer
// may reach (call_recording/<subscriberId>, announcements/<subscriberId>). Every key is cleaned
// before the prefix is put in front, so no key given to the scope names anything outside it.
func Scope(s Storage, prefix string) (Storage, error) {
	p, err := cleanPrefix(prefix)
	if err != nil || p == "" {
		return nil, badKey("scope", prefix)
	}
	if sc, ok := s.(*scoped); ok { // a scope of a scope: one prefix, one check
		return &scoped{s: sc.s, prefix: sc.prefix + p}, nil
	}
	return &scoped{s: s, prefix: p}, nil
}

type scoped struct {
	s      Storage
	prefix string
}

func (sc *scoped) key(op, key string) (string, error) {
	c, err := cleanKey(key)
	if err != nil {
		return "", badKey(op, key)
	}
	return sc.prefix + c, nil
}

func (sc *scoped) Put(ctx context.Context, key string, r io.Reader, size int64) (Info, error) {
	k, err := sc.key("put", key)
	if err != nil {
		return Info{}, err
	}
	i, err := sc.s.Put(ctx, k, r, size)
	i.Key = strings.TrimPrefix(i.Key, sc.prefix)
	return i, err
}

func (sc *scoped) Open(ctx context.Context, key string) (Object, error) {
	k, err := sc.key("open", key)
	if err != nil {
		return nil, err
	}
	o, err := sc.s.Open(ctx, k)
	if err != nil {
		return nil, err
	}
	return scopedObject{o, sc.prefix}, nil
}

type scopedObject struct {
	Object
	prefix string
}

func (o scopedObject) Info() Info {
	i := o.Object.Info()
	i.Key = strings.TrimPrefix(i.Key, o.prefix)
	return i
}

func (sc *scoped) Stat(ctx context.Context, key string) (Info, error) {
	k, err := sc.key("stat", key)
	if err != nil {
		return Info{}, err
	}
	i, err := sc.s.Stat(ctx, k)
	i.Key = strings.TrimPrefix(i.Key, sc.prefix)
	return i, err
}

func (sc *scoped) Delete(ctx context.Context, key string) error {
	k, err := sc.key("delete", key)
	if err != nil {
		return err
	}
	return sc.s.Delete(ctx, k)
}

func (sc *scoped) List(ctx context.Context, prefix string, recursive bool) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		p, err := cleanPrefix(prefix)
		if err != nil {
			yield(Info{}, badKey("list", prefix))
			return
		}
		for i, err := range sc.s.List(ctx, sc.prefix+p, recursive) {
			if err == nil && !strings.HasPrefix(i.Key, sc.prefix) {
				continue // never, from a correct backend; never shown, from a broken one
			}
			i.Key = strings.TrimPrefix(i.Key, sc.prefix)
			if !yield(i, err) || err != nil {
				return
			}
		}
	}
}

func (sc *scoped) String() string { return sc.s.String() + " (" + sc.prefix + ")" }
