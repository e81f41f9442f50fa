package ftpd

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/afero"
)

// errReadOnly is what every change answers: FTP 550, SFTP SSH_FX_PERMISSION_DENIED.
var errReadOnly = fs.ErrPermission

// view is one customer's recordings, read-only, as both an afero.Fs (FTPS) and the source of the
// SFTP handlers. Every access goes through an os.Root opened at call_recording/<subscriberId>, so
// neither ".." nor a symlink reaches outside it; on top of that, symlinks and other special files
// inside are neither listed nor followed, and hidden files (temporary files of uploads) stay hidden.
type view struct {
	root *os.Root
	// allowed says whether the session may still read (the booking may end while it is open).
	allowed func() error
}

var _ afero.Fs = (*view)(nil)

// rel maps a client path (absolute or relative to the customer's folder) to a path inside the root.
// Cleaning against "/" first means ".." can never climb above the customer's folder.
func rel(name string) string {
	c := path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))
	if c == "/" {
		return "."
	}
	return c[1:]
}

// check walks name's components with Lstat and refuses symlinks, hidden names and anything that
// is neither a folder nor a regular file. It returns the final component's info.
func (v *view) check(op, name string) (string, fs.FileInfo, error) {
	if v.allowed != nil {
		if err := v.allowed(); err != nil {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: errReadOnly}
		}
	}
	r := rel(name)
	if r == "." {
		fi, err := v.root.Lstat(".")
		if err != nil {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		return r, fi, nil
	}
	parts := strings.Split(r, "/")
	var fi fs.FileInfo
	for i, p := range parts {
		if strings.HasPrefix(p, ".") || strings.ContainsRune(p, 0) {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		var err error
		fi, err = v.root.Lstat(strings.Join(parts[:i+1], "/"))
		if err != nil {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		last := i == len(parts)-1
		if !visible(fi) || (!last && !fi.IsDir()) {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
	}
	return r, fi, nil
}

// visible reports whether an entry is served: folders and regular files with a normal name.
func visible(fi fs.FileInfo) bool {
	if strings.HasPrefix(fi.Name(), ".") && fi.Name() != "." {
		return false
	}
	return fi.IsDir() || fi.Mode().IsRegular()
}

// readDir lists a folder's visible entries.
func (v *view) readDir(name string) ([]fs.FileInfo, error) {
	r, fi, err := v.check("readdir", name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	d, err := v.root.Open(r)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	// Readdir lstats each entry, so a symlink shows as a symlink and is dropped here.
	all, err := d.Readdir(-1)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if visible(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// openRead opens a visible file or folder for reading.
func (v *view) openRead(name string) (*os.File, fs.FileInfo, error) {
	r, fi, err := v.check("open", name)
	if err != nil {
		return nil, nil, err
	}
	f, err := v.root.Open(r)
	if err != nil {
		return nil, nil, err
	}
	// The name may have been swapped for a symlink since check; what is open must be what was checked.
	if got, err := f.Stat(); err != nil || !os.SameFile(got, fi) {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return f, fi, nil
}

func denied(op, name string) error { return &fs.PathError{Op: op, Path: name, Err: errReadOnly} }

// afero.Fs, read-only.

func (v *view) Name() string { return "callrec-recordings" }

func (v *view) Open(name string) (afero.File, error) {
	f, _, err := v.openRead(name)
	if err != nil {
		return nil, err
	}
	return &roFile{f: f, v: v, name: name}, nil
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

// roFile is an open file or folder; writes are refused, listings filtered like readDir.
type roFile struct {
	f    *os.File
	v    *view
	name string
	// pending holds a folder's filtered entries for Readdir with a count.
	pending []fs.FileInfo
	listed  bool
}

func (r *roFile) Close() error                              { return r.f.Close() }
func (r *roFile) Read(p []byte) (int, error)                { return r.f.Read(p) }
func (r *roFile) ReadAt(p []byte, off int64) (int, error)   { return r.f.ReadAt(p, off) }
func (r *roFile) Seek(off int64, whence int) (int64, error) { return r.f.Seek(off, whence) }
func (r *roFile) Write([]byte) (int, error)                 { return 0, denied("write", r.name) }
func (r *roFile) WriteAt([]byte, int64) (int, error)        { return 0, denied("write", r.name) }
func (r *roFile) WriteString(string) (int, error)           { return 0, denied("write", r.name) }
func (r *roFile) Truncate(int64) error                      { return denied("truncate", r.name) }
func (r *roFile) Sync() error                               { return nil }
func (r *roFile) Name() string                              { return r.name }
func (r *roFile) Stat() (os.FileInfo, error)                { return r.f.Stat() }

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

// openCustomerRoot opens <data>/call_recording/<subscriberId> as its own root, creating it when
// the customer has no recordings yet. A symlink in place of the folder itself is refused.
func openCustomerRoot(data *os.Root, subscriberID string) (*os.Root, error) {
	if subscriberID == "" || strings.ContainsAny(subscriberID, "/\\.") {
		return nil, errors.New("ftpd: bad subscriber ID")
	}
	dir := "call_recording/" + subscriberID
	if err := data.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	for _, p := range []string{"call_recording", dir} {
		fi, err := data.Lstat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, errors.New("ftpd: " + p + " is not a folder")
		}
	}
	return data.OpenRoot(dir)
}
