package audio

import (
	"errors"
	"io"
)

// section is a buffered view of bytes [off, off+size) of r. Third-party decoders read headers
// a few bytes at a time; without the buffer every one of those is a system call.
type section struct {
	r         io.ReadSeeker
	off, size int64
	buf       []byte
	i, n      int   // unread bytes are buf[i:n]
	pos       int64 // position (relative to off) of buf[n]
}

func newSection(r io.ReadSeeker, off, size int64) (*section, error) {
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	return &section{r: r, off: off, size: size, buf: make([]byte, 32<<10)}, nil
}

func (s *section) Read(p []byte) (int, error) {
	if s.i == s.n {
		left := s.size - s.pos
		if left <= 0 {
			return 0, io.EOF
		}
		b := s.buf
		if int64(len(b)) > left {
			b = b[:left]
		}
		n, err := s.r.Read(b)
		s.i, s.n = 0, n
		s.pos += int64(n)
		if n == 0 {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
	n := copy(p, s.buf[s.i:s.n])
	s.i += n
	return n, nil
}

func (s *section) Seek(offset int64, whence int) (int64, error) {
	cur := s.pos - int64(s.n-s.i)
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = cur + offset
	case io.SeekEnd:
		abs = s.size + offset
	default:
		return 0, errors.New("audio: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("audio: negative seek")
	}
	if start := s.pos - int64(s.n); abs >= start && abs <= s.pos {
		s.i = int(abs - start)
		return abs, nil
	}
	if _, err := s.r.Seek(s.off+abs, io.SeekStart); err != nil {
		return 0, err
	}
	s.pos, s.i, s.n = abs, 0, 0
	return abs, nil
}
