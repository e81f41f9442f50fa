package audio

import (
	"io"
	"math"
	"time"
)

// LoadMaxDuration bounds what LoadPCM reads into memory (an announcement is seconds long).
const LoadMaxDuration = 10 * time.Minute

// LoadPCM decodes any supported file to mono 16-bit PCM at rate, for playing into a call. The
// level is kept as it is (announcements are normalised when they are converted on upload).
func LoadPCM(r io.ReadSeeker, rate int) ([]int16, error) {
	if rate < 1000 || rate > MaxRate {
		return nil, errorf(CodeBadRate, "output rate %d Hz", rate)
	}
	d, err := open(r)
	if err != nil {
		return nil, err
	}
	f := d.Format()
	maxIn := int64(LoadMaxDuration/time.Second) * int64(f.Rate)
	if f.Frames > maxIn {
		return nil, errorf(CodeTooLong, "%v (limit %v)", f.Duration().Round(time.Second), LoadMaxDuration)
	}
	var rs *resampler
	if f.Rate != rate {
		rs = newResampler(f.Rate, rate)
	}
	var out []int16
	if f.Frames > 0 {
		out = make([]int16, 0, f.Frames*int64(rate)/int64(f.Rate)+2)
	}
	in := make([]float32, 8192)
	var tmp []float32
	var total int64
	emit := func(s []float32) {
		for _, x := range s {
			v := math.Round(float64(x) * 32768)
			out = append(out, int16(max(-32768, min(32767, v))))
		}
	}
	for {
		n, err := safeRead(d, in)
		total += int64(n)
		if total > maxIn {
			return nil, errorf(CodeTooLong, "over %v", LoadMaxDuration)
		}
		final := err == io.EOF
		if err != nil && !final {
			return nil, err
		}
		if rs == nil {
			emit(in[:n])
		} else {
			tmp = rs.process(tmp[:0], in[:n], final)
			emit(tmp)
		}
		if final {
			break
		}
	}
	if total == 0 {
		return nil, errorf(CodeNoAudio, "no samples")
	}
	return out, nil
}
