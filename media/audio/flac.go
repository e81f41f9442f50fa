package audio

import (
	"io"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
)

type flacReader struct {
	f     Format
	s     *flac.Stream
	fr    *frame.Frame
	i     int // next sample in fr
	count int64
}

func openFLAC(r io.ReadSeeker, off int64) (decoder, error) {
	size, err := sizeOf(r)
	if err != nil {
		return nil, err
	}
	sec, err := newSection(r, off, size-off)
	if err != nil {
		return nil, err
	}
	s, err := flac.New(sec)
	if err != nil {
		return nil, libErr("flac", err)
	}
	in := s.Info
	f := Format{Container: "flac", Codec: "flac", Bits: int(in.BitsPerSample), Rate: int(in.SampleRate),
		Channels: int(in.NChannels), Frames: int64(in.NSamples)}
	if f.Frames == 0 {
		f.Frames = -1
	}
	if err := checkShape(f.Rate, f.Channels); err != nil {
		return nil, err
	}
	return &flacReader{f: f, s: s}, nil
}

func (d *flacReader) Format() Format { return d.f }

func (d *flacReader) Read(dst []float32) (int, error) {
	for d.fr == nil || d.i >= int(d.fr.BlockSize) {
		fr, err := d.s.ParseNext()
		if err == io.EOF {
			return 0, io.EOF
		}
		if err != nil {
			return 0, libErr("flac", err)
		}
		if len(fr.Subframes) != d.f.Channels || fr.SampleRate != uint32(d.f.Rate) {
			return 0, errorf(CodeCorruptFile, "flac frame changes the stream's layout")
		}
		for _, sf := range fr.Subframes {
			if len(sf.Samples) < int(fr.BlockSize) {
				return 0, errorf(CodeCorruptFile, "flac subframe shorter than its block")
			}
		}
		d.fr, d.i = fr, 0
	}
	fr := d.fr
	n := min(len(dst), int(fr.BlockSize)-d.i)
	scale := 1 / float32(int64(1)<<(fr.BitsPerSample-1)) / float32(len(fr.Subframes))
	for j := 0; j < n; j++ {
		var acc int64
		for _, sf := range fr.Subframes {
			acc += int64(sf.Samples[d.i+j])
		}
		dst[j] = float32(acc) * scale
	}
	d.i += n
	d.count += int64(n)
	return n, nil
}
