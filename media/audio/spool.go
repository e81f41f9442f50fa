package audio

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
	"os"
)

// spoolMem is how many samples a spool keeps in memory before it moves to a temporary file:
// 1 MiB, 16 s at 16 kHz, so short announcements never touch the disk. Larger made peak RSS
// grow (a 4 MiB limit doubled the 10-minute conversion's RSS to 26 MB) for no gain in speed.
const spoolMem = 1 << 18

// spool holds the resampled float stream between the pass that finds its peak and the pass that
// normalises and quantises it. Keeping the float output (rather than decoding and resampling
// twice) makes conversion a single resampling pass.
type spool struct {
	dir  string
	mem  []float32
	f    *os.File
	bw   *bufio.Writer
	br   *bufio.Reader
	n    int64
	rpos int64
	b    []byte
}

func (s *spool) write(x []float32) error {
	s.n += int64(len(x))
	if s.f == nil && len(s.mem)+len(x) <= spoolMem {
		s.mem = append(s.mem, x...)
		return nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "callrec-convert-*.f32")
		if err != nil {
			return err
		}
		// Unlinked at once where the OS allows it: nothing is left behind on a crash.
		_ = os.Remove(f.Name())
		s.f = f
		s.bw = bufio.NewWriterSize(f, 256<<10)
		if err := s.put(s.mem); err != nil {
			return err
		}
		s.mem = nil
	}
	return s.put(x)
}

func (s *spool) put(x []float32) error {
	if cap(s.b) < 4*len(x) {
		s.b = make([]byte, 4*len(x))
	}
	b := s.b[:4*len(x)]
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	_, err := s.bw.Write(b)
	return err
}

// rewind switches the spool from writing to reading.
func (s *spool) rewind() error {
	if s.f == nil {
		return nil
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.br = bufio.NewReaderSize(s.f, 256<<10)
	return nil
}

// read fills dst with the next samples; io.EOF at the end.
func (s *spool) read(dst []float32) (int, error) {
	left := s.n - s.rpos
	if left == 0 {
		return 0, io.EOF
	}
	n := len(dst)
	if int64(n) > left {
		n = int(left)
	}
	if s.f == nil {
		copy(dst, s.mem[s.rpos:s.rpos+int64(n)])
	} else {
		if cap(s.b) < 4*n {
			s.b = make([]byte, 4*n)
		}
		b := s.b[:4*n]
		if _, err := io.ReadFull(s.br, b); err != nil {
			return 0, err
		}
		for i := range dst[:n] {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	s.rpos += int64(n)
	return n, nil
}

func (s *spool) close() {
	if s.f != nil {
		name := s.f.Name()
		s.f.Close()
		os.Remove(name)
	}
}
