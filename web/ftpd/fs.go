package ftpd

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/afero"

	"callrec/models/files"
)

// errReadOnly is what every change answers: FTP 550, SFTP SSH_FX_PERMISSION_DENIED.
var errReadOnly = fs.ErrPermission

// view is one customer's recordings, read-only, as both an afero.Fs (FTPS) and the source of the
// SFTP handlers: a virtual file system over the storage, scoped to call_recording/<subscriberId>
// (files.Scope), so no client path names anything outside it. Folders are the key prefixes;
// hidden names (temporary files) are neither listed nor opened, and in the data folder symlinks
// and other special files are neither listed nor followed (files.Local).
type view struct {
	st files.Storage
	// allowed says whether the session may still read (the booking may end while it is open).
	allowed func() error
}

var _ afero.Fs = (*view)(nil)

// rel maps a client path (absolute or relative to the customer's folder) to a key inside the
// scope. Cleaning against "/" first means ".." can never climb above the customer's folder.
func rel(name string) string {
	c := path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))
	if c == "/" {
		return "."
	}
	return c[1:]
}

// entry is a listed object or folder.
type entry struct {
	name string
	size int64
	mod  time.Time
	dir  bool
}

func (e entry) Name() string { return e.name }
func (e entry) Size() int64  { return e.size }
func (e entry) Mode() fs.FileMode {
	if e.dir {
		return fs.ModeDir | 0o550
	}
	return 0o440
}
func (e entry) ModTime() time.Time { return e.mod }
func (e entry) IsDir() bool        { return e.dir }
func (e entry) Sys() any           { return nil }

func infoOf(i files.Info) entry {
	return entry{name: path.Base(i.Key), size: i.Size, mod: i.ModTime, dir: i.Dir}
}

// check finds name: the customer's folder, an object, or a folder (a prefix with objects under
// it). It returns the key ("." for the top) and its info.
func (v *view) check(op, name string) (string, fs.FileInfo, error) {
	if v.allowed != nil {
		if err := v.allowed(); err != nil {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: errReadOnly}
		}
	}
	r := rel(name)
	if r == "." {
		return r, entry{name: "/", dir: true}, nil
	}
	for _, p := range strings.Split(r, "/") {
		if strings.HasPrefix(p, ".") || strings.ContainsRune(p, 0) {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
	}
	ctx := context.Background()
	if i, err := v.st.Stat(ctx, r); err == nil {
		return r, infoOf(i), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	for _, err := range v.st.List(ctx, r, false) {
		if err != nil {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		return r, entry{name: path.Base(r), dir: true}, nil
	}
	return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

// readDir lists a folder's entries.
func (v *view) readDir(name string) ([]fs.FileInfo, error) {
	r, fi, err := v.check("readdir", name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	if r == "." {
		r = ""
	}
	var out []fs.FileInfo
	for i, err := range v.st.List(context.Background(), r, false) {
		if err != nil {
			return nil, err
		}
		out = append(out, infoOf(i))
	}
	return out, nil
}

// openRead opens an object for reading (nil for a folder, with its info).
func (v *view) openRead(name string) (files.Object, fs.FileInfo, error) {
	r, fi, err := v.check("open", name)
	if err != nil {
		return nil, nil, err
	}
	if fi.IsDir() {
		return nil, fi, nil
	}
	o, err := v.st.Open(context.Background(), r)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return o, infoOf(o.Info()), nil
}

func denied(op, name string) error { return &fs.PathError{Op: op, Path: name, Err: errReadOnly} }

// afero.Fs, read-only.

func (v *view) Name() string { return "callrec-recordings" }

func (v *view) Open(name string) (afero.File, error) {
	f, fi, err := v.openRead(name)
	if err != nil {
		return nil, err
	}
	return &roFile{f: f, fi: fi, v: v, name: name}, nil
}

func (v *view) OpenFile(name string, flag int, _ os.FileMode) (afero.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) != 0 {
		return nil, denied("open", name)
	}
	return v.Open(name)
}

func (v *view) Stat(name string) (os.FileInfo, error) {
	_, fi, err := v.check("stat", name)
	return fi, err
}

// LstatIfPossible lets afero users see that nothing here is a symlink.
func (v *view) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	fi, err := v.Stat(name)
	return fi, true, err
}

// ReadDir is ftpserverlib's listing extension.
func (v *view) ReadDir(name string) ([]os.FileInfo, error) { return v.readDir(name) }

func (v *view) Create(name string) (afero.File, error)          { return nil, denied("create", name) }
func (v *view) Mkdir(name string, _ os.FileMode) error          { return denied("mkdir", name) }
func (v *view) MkdirAll(name string, _ os.FileMode) error       { return denied("mkdir", name) }
func (v *view) Remove(name string) error                        { return denied("remove", name) }
func (v *view) RemoveAll(name string) error                     { return denied("remove", name) }
func (v *view) Rename(oldname, _ string) error                  { return denied("rename", oldname) }
func (v *view) Chmod(name string, _ os.FileMode) error          { return denied("chmod", name) }
func (v *view) Chown(name string, _, _ int) error               { return denied("chown", name) }
func (v *view) Chtimes(name string, _, _ time.Time) error       { return denied("chtimes", name) }
func (v *view) Symlink(oldname, _ string) error                 { return denied("symlink", oldname) }
func (v *view) RemoveDir(name string) error                     { return denied("rmdir", name) }
func (v *view) AllocateSpace(int) error                         { return errReadOnly }
func (v *view) GetAvailableSpace(dirName string) (int64, error) { return 0, denied("avbl", dirName) }

// roFile is an open file (f) or folder (f nil); writes are refused.
type roFile struct {
	f    files.Object
	fi   fs.FileInfo
	v    *view
	name string
	// pending holds a folder's filtered entries for Readdir with a count.
	pending []fs.FileInfo
	listed  bool
}

// errIsDir is a read of a folder.
var errIsDir = errors.New("is a folder")

func (r *roFile) Close() error {
	if r.f == nil {
		return nil
	}
	return r.f.Close()
}

func (r *roFile) Read(p []byte) (int, error) {
	if r.f == nil {
		return 0, &fs.PathError{Op: "read", Path: r.name, Err: errIsDir}
	}
	return r.f.Read(p)
}

func (r *roFile) ReadAt(p []byte, off int64) (int, error) {
	if r.f == nil {
		return 0, &fs.PathError{Op: "read", Path: r.name, Err: errIsDir}
	}
	return r.f.ReadAt(p, off)
}

func (r *roFile) Seek(off int64, whence int) (int64, error) {
	if r.f == nil {
		return 0, &fs.PathError{Op: "seek", Path: r.name, Err: errIsDir}
	}
	return r.f.Seek(off, whence)
}

func (r *roFile) Write([]byte) (int, error)          { return 0, denied("write", r.name) }
func (r *roFile) WriteAt([]byte, int64) (int, error) { return 0, denied("write", r.name) }
func (r *roFile) WriteString(string) (int, error)    { return 0, denied("write", r.name) }
func (r *roFile) Truncate(int64) error               { return denied("truncate", r.name) }
func (r *roFile) Sync() error                        { return nil }
func (r *roFile) Name() string                       { return r.name }
func (r *roFile) Stat() (os.FileInfo, error)         { return r.fi, nil }

func (r *roFile) Readdir(count int) ([]os.FileInfo, error) {
	if !r.listed {
		all, err := r.v.readDir(r.name)
		if err != nil {
			return nil, err
		}
		r.pending, r.listed = all, true
	}
	if count <= 0 {
		out := r.pending
		r.pending = nil
		return out, nil
	}
	if len(r.pending) == 0 {
		return nil, io.EOF
	}
	n := min(count, len(r.pending))
	out := r.pending[:n]
	r.pending = r.pending[n:]
	return out, nil
}

func (r *roFile) Readdirnames(n int) ([]string, error) {
	fis, err := r.Readdir(n)
	names := make([]string, len(fis))
	for i, fi := range fis {
		names[i] = fi.Name()
	}
	return names, err
}

// customerView is the read-only view of a customer's recordings in st.
func customerView(st files.Storage, subscriberID string, allowed func() error) (*view, error) {
	if subscriberID == "" || strings.ContainsAny(subscriberID, "/\\.") {
		return nil, errors.New("ftpd: bad subscriber ID")
	}
	sc, err := files.Scope(st, "call_recording/"+subscriberID)
	if err != nil {
		return nil, err
	}
	return &view{st: sc, allowed: allowed}, nil
}
