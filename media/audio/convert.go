package audio

import (
	"bufio"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
)

// DefaultMaxDuration is the longest input Convert accepts unless told otherwise.
const DefaultMaxDuration = 10 * time.Minute

// peakTarget is -1 dBFS: loud on a phone line without touching full scale.
var peakTarget = float32(math.Pow(10, -1.0/20))

// ConvertOptions tune Convert. The zero value is the product's setting.
type ConvertOptions struct {
	// MaxDuration rejects longer inputs with too_long (default DefaultMaxDuration).
	MaxDuration time.Duration
	// TempDir is where inputs longer than about a minute spool their resampled float stream
	// (default os.TempDir()).
	TempDir string

	// tap receives the normalised float output before dither, for quality tests.
	tap func([]float32)
}

// Convert decodes any supported input (see Probe) and writes it to w as the announcement format:
// WAV PCM 8-bit unsigned, 16 kHz, mono. Channels are averaged, the rate converted with a
// band-limited windowed-sinc filter (a 16 kHz input is copied), the level normalised to a peak of
// -1 dBFS and quantised with TPDF dither from a fixed seed, so the same input always gives the
// same bytes. Memory stays bounded whatever the input's length. It returns the input's format.
// Problems with the input are *Error values; errors of r or w are returned as they are. w is
// written from its current position; on error it holds a partial file (ConvertFile cleans up).
func Convert(r io.ReadSeeker, w io.WriteSeeker, opt ConvertOptions) (Format, error) {
	if opt.MaxDuration <= 0 {
		opt.MaxDuration = DefaultMaxDuration
	}
	d, err := open(r)
	if err != nil {
		return Format{}, err
	}
	f := d.Format()
	maxIn := int64(opt.MaxDuration.Seconds() * float64(f.Rate))
	if f.Frames > maxIn {
		return f, errorf(CodeTooLong, "%v (limit %v)", f.Duration().Round(time.Second), opt.MaxDuration)
	}
	if maxOut := int64(opt.MaxDuration.Seconds()*TargetRate) + 2; maxOut > math.MaxUint32-64 {
		return f, errorf(CodeTooLong, "limit %v does not fit a WAV file", opt.MaxDuration)
	}

	sp := &spool{dir: opt.TempDir}
	defer sp.close()
	var rs *resampler
	if f.Rate != TargetRate {
		rs = newResampler(f.Rate, TargetRate)
	}
	in := make([]float32, 16384)
	out := make([]float32, 0, 16384*TargetRate/MinRate+8)
	var total int64
	var peak float32
	for {
		n, err := safeRead(d, in)
		total += int64(n)
		if total > maxIn {
			return f, errorf(CodeTooLong, "longer than %v", opt.MaxDuration)
		}
		final := err == io.EOF
		if err != nil && !final {
			return f, err
		}
		blk := in[:n]
		if rs != nil {
			out = rs.process(out[:0], blk, final)
			blk = out
		}
		for _, x := range blk {
			if x > peak {
				peak = x
			} else if -x > peak {
				peak = -x
			}
		}
		if err := sp.write(blk); err != nil {
			return f, err
		}
		if final {
			break
		}
	}
	if total == 0 {
		return f, errorf(CodeNoAudio, "no samples")
	}
	if f.Frames < 0 {
		f.Frames = total
	}

	if err := sp.rewind(); err != nil {
		return f, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := writeFull(bw, targetHeader(uint32(sp.n))); err != nil {
		return f, err
	}
	var gain float32
	if peak > 0 {
		gain = peakTarget / peak
	}
	dith := newDitherer()
	q := make([]byte, len(in))
	for {
		n, err := sp.read(in)
		if err == io.EOF {
			break
		}
		if err != nil {
			return f, err
		}
		blk := in[:n]
		for i := range blk {
			blk[i] *= gain
		}
		if opt.tap != nil {
			opt.tap(blk)
		}
		dith.quantise(q[:n], blk, peak > 0)
		if err := writeFull(bw, q[:n]); err != nil {
			return f, err
		}
	}
	if sp.n&1 == 1 {
		if err := bw.WriteByte(0); err != nil {
			return f, err
		}
	}
	return f, bw.Flush()
}

// ConvertFile converts the file in to the file out (see Convert). It writes a temporary file next
// to out and renames it into place only when everything succeeded, so out is either the complete
// new file or untouched.
func ConvertFile(in, out string, opt ConvertOptions) (Format, error) {
	src, err := os.Open(in)
	if err != nil {
		return Format{}, err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return Format{}, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	f, err := Convert(src, tmp, opt)
	if err != nil {
		return f, err
	}
	if err := tmp.Sync(); err != nil {
		return f, err
	}
	if err := tmp.Close(); err != nil {
		return f, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return f, err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return f, err
	}
	ok = true
	return f, nil
}
