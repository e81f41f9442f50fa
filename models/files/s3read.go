package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/minio/minio-go/v7"
)

// Open gives an object whose reads are ranged GETs: a player's Range request, a ZIP entry or an
// FTP download fetch what they read and no more (give or take one read-ahead window). Every GET
// is pinned to the ETag seen at Open, so an object replaced meanwhile fails the read instead of
// mixing two versions.
func (s *S3) Open(ctx context.Context, key string) (Object, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	return &s3Object{s: s, ctx: ctx, key: s.prefix + info.Key, info: info, window: minWindow}, nil
}

// Sequential reads open a GET of one window and double the window while the reader keeps
// reading on (a whole download needs few requests); a seek starts small again (a player's
// probe at the end of a file costs one small request).
const (
	minWindow = 256 << 10
	maxWindow = 16 << 20
	// atWindow is what one ReadAt fetches at least and keeps: SFTP reads in 32 KiB pieces, some
	// out of order, and each must not be a request of its own.
	atWindow = 1 << 20
)

type s3Object struct {
	s    *S3
	ctx  context.Context
	key  string
	info Info

	pos    int64         // next byte Read gives
	body   io.ReadCloser // the open GET, giving bytes from pos up to bodyEnd
	bodyAt int64         // end (exclusive) of the open GET's range
	window int64

	mu    sync.Mutex // ReadAt's buffer (ReadAt may be called concurrently)
	atOff int64
	atBuf []byte
}

func (o *s3Object) Info() Info { return o.info }

// get opens a GET of [off, end) of the object.
func (o *s3Object) get(off, end int64) (io.ReadCloser, error) {
	var opts minio.GetObjectOptions
	if o.info.ETag != "" {
		if err := opts.SetMatchETag(o.info.ETag); err != nil {
			return nil, err
		}
	}
	if err := opts.SetRange(off, end-1); err != nil {
		return nil, err
	}
	body, _, _, err := o.s.core.GetObject(o.ctx, o.s.bucket, o.key, opts)
	if err != nil {
		return nil, o.s.explain(fmt.Sprintf("reading %s at %d", o.info.Key, off), err)
	}
	return body, nil
}

func (o *s3Object) Read(p []byte) (int, error) {
	if o.pos >= o.info.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if o.body == nil {
		end := min(o.info.Size, o.pos+o.window)
		b, err := o.get(o.pos, end)
		if err != nil {
			return 0, err
		}
		o.body, o.bodyAt = b, end
		o.window = min(o.window*2, maxWindow)
	}
	n, err := o.body.Read(p[:min(int64(len(p)), o.bodyAt-o.pos)])
	o.pos += int64(n)
	if o.pos >= o.bodyAt || err != nil {
		o.body.Close()
		o.body = nil
		if err == io.EOF && o.pos < o.bodyAt {
			return n, io.ErrUnexpectedEOF // the server sent less than the range
		}
		if err == io.EOF {
			err = nil
		}
	}
	return n, err
}

func (o *s3Object) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += o.pos
	case io.SeekEnd:
		off += o.info.Size
	default:
		return 0, errors.New("files: bad whence")
	}
	if off < 0 {
		return 0, errors.New("files: negative position")
	}
	if off != o.pos && o.body != nil {
		o.body.Close()
		o.body = nil
	}
	if off != o.pos {
		o.window = minWindow
	}
	o.pos = off
	return off, nil
}

func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("files: negative offset")
	}
	if off >= o.info.Size {
		return 0, io.EOF
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for n < len(p) && off < o.info.Size {
		if off < o.atOff || off >= o.atOff+int64(len(o.atBuf)) {
			end := min(o.info.Size, off+max(int64(len(p)-n), atWindow))
			b, err := o.get(off, end)
			if err != nil {
				return n, err
			}
			buf := o.atBuf[:0]
			if int64(cap(buf)) < end-off {
				buf = make([]byte, end-off)
			}
			buf = buf[:end-off]
			_, err = io.ReadFull(b, buf)
			b.Close()
			if err != nil {
				return n, fmt.Errorf("storage %s: reading %s at %d: %w", o.s.where, o.info.Key, off, err)
			}
			o.atOff, o.atBuf = off, buf
		}
		c := copy(p[n:], o.atBuf[off-o.atOff:])
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (o *s3Object) Close() error {
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
	o.atBuf = nil
	return nil
}
