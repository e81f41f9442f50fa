package audio

import (
	"io"

	"github.com/jfreymuth/oggvorbis"
)

type oggReader struct {
	f   Format
	r   *oggvorbis.Reader
	buf []float32
}

func openOgg(r io.ReadSeeker) (decoder, error) {
	size, err := sizeOf(r)
	if err != nil {
		return nil, err
	}
	sec, err := newSection(r, 0, size)
	if err != nil {
		return nil, err
	}
	if err := checkVorbisHeaders(sec); err != nil {
		return nil, err
	}
	if err := checkOggPages(sec, size); err != nil {
		return nil, err
	}
	if _, err := sec.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	o, err := oggvorbis.NewReader(sec)
	if err != nil {
		return nil, libErr("ogg", err)
	}
	f := Format{Container: "ogg", Codec: "vorbis", Rate: o.SampleRate(), Channels: o.Channels(), Frames: o.Length()}
	if f.Frames <= 0 {
		f.Frames = -1
	}
	if err := checkShape(f.Rate, f.Channels); err != nil {
		return nil, err
	}
	return &oggReader{f: f, r: o}, nil
}

func (d *oggReader) Format() Format { return d.f }

func (d *oggReader) Read(dst []float32) (int, error) {
	ch := d.f.Channels
	if cap(d.buf) < len(dst)*ch {
		d.buf = make([]float32, len(dst)*ch)
	}
	n, err := d.r.Read(d.buf[:len(dst)*ch])
	n /= ch
	if n == 0 {
		if err == nil {
			return 0, nil // safeRead gives up on a decoder that never makes progress
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return 0, io.EOF
		}
		return 0, libErr("ogg", err)
	}
	inv := 1 / float32(ch)
	for i := 0; i < n; i++ {
		var acc float32
		for c := 0; c < ch; c++ {
			acc += d.buf[i*ch+c]
		}
		dst[i] = acc * inv
	}
	return n, nil
}
