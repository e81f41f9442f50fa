package files

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"unsafe"
)

// ErrNotPCM16 is returned by Peaks for anything but a 16-bit PCM WAV (the engine's recordings).
var ErrNotPCM16 = errors.New("files: not a 16-bit PCM WAV")

// Peaks computes a waveform of n buckets from a 16-bit PCM WAV: each byte is the loudest
// sample of its stretch of time over all channels, scaled to 0..255. The data chunk's size is
// trusted only up to the end of the file (size is the file's length), so a recording cut off by
// a crash, or still being written, gives the peaks of what is there.
func Peaks(r io.Reader, size int64, n int) ([]byte, error) {
	return peaks(r, size, n, false)
}

// LanePeaks is the waveform a recording keeps: for a stereo file the caller's (left) channel's
// n buckets followed by the callee's (right) n, so that the recording page draws the two sides
// of the call as two lanes; for any other file it is Peaks. Lanes splits it again.
func LanePeaks(r io.Reader, size int64, n int) ([]byte, error) {
	return peaks(r, size, n, true)
}

// Lanes splits stored peaks of n buckets into their lanes: a stereo file's 2n bytes into the
// caller's and the callee's, anything else into one lane.
func Lanes(p []byte, n int) [][]byte {
	if n > 0 && len(p) == 2*n {
		return [][]byte{p[:n], p[n:]}
	}
	return [][]byte{p}
}

// Mixed is stored peaks as one lane: a stereo file's louder side per bucket (Peaks's answer).
func Mixed(p []byte, n int) []byte {
	ls := Lanes(p, n)
	if len(ls) == 1 {
		return p
	}
	out := make([]byte, n)
	for i := range out {
		out[i] = max(ls[0][i], ls[1][i])
	}
	return out
}

func peaks(r io.Reader, size int64, n int, lanes bool) ([]byte, error) {
	if n <= 0 {
		return nil, errors.New("files: no buckets")
	}
	br := bufio.NewReaderSize(r, 256<<10)
	var hdr [12]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, ErrNotPCM16
	}
	pos := int64(12)
	channels := 0
	for {
		var ch [8]byte
		if _, err := io.ReadFull(br, ch[:]); err != nil {
			return nil, ErrNotPCM16
		}
		pos += 8
		id, sz := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		if id == "fmt " {
			if sz < 16 || sz > 1024 {
				return nil, ErrNotPCM16
			}
			buf := make([]byte, sz+sz&1)
			if _, err := io.ReadFull(br, buf); err != nil {
				return nil, ErrNotPCM16
			}
			pos += int64(len(buf))
			tag, chans, bits := binary.LittleEndian.Uint16(buf[0:2]), int(binary.LittleEndian.Uint16(buf[2:4])), binary.LittleEndian.Uint16(buf[14:16])
			if tag == 0xFFFE && sz >= 26 { // WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
				tag = binary.LittleEndian.Uint16(buf[24:26])
			}
			if tag != 1 || bits != 16 || chans < 1 || chans > 8 {
				return nil, ErrNotPCM16
			}
			channels = chans
			continue
		}
		if id != "data" {
			if sz > size-pos {
				return nil, ErrNotPCM16
			}
			if _, err := br.Discard(int(sz + sz&1)); err != nil {
				return nil, ErrNotPCM16
			}
			pos += sz + sz&1
			continue
		}
		if channels == 0 {
			return nil, ErrNotPCM16
		}
		if sz == 0 || sz > size-pos { // unfinished header or a file cut short
			sz = size - pos
		}
		if lanes && channels == 2 {
			return stereoPeaksOf(br, sz/4, n)
		}
		return peaksOf(br, sz/int64(2*channels), channels, n)
	}
}

func peaksOf(r io.Reader, frames int64, channels, n int) ([]byte, error) {
	out := make([]byte, n)
	if frames <= 0 {
		return out, nil
	}
	// A bucket is a run of whole frames; its peak is the loudest sample in its bytes, whatever
	// the channel, so the inner loop is a plain scan over 16-bit words.
	block := int64(2 * channels)
	total := frames * block
	buf := make([]byte, 256<<10)
	var pos int64 // bytes of sample data consumed
	bucket := 0
	end := bucketEnd(0, frames, n) * block
	peak := 0
	for pos < total {
		m, err := io.ReadFull(r, buf[:min(int64(len(buf)), total-pos)])
		m &^= 1
		chunk := buf[:m]
		for len(chunk) > 0 {
			take := min(int64(len(chunk)), end-pos)
			peak = max(peak, peakOf(chunk[:take]))
			chunk = chunk[take:]
			pos += take
			for pos >= end && bucket < n {
				out[bucket] = byte(min(255, (peak*255+32767)/32768))
				bucket++
				peak = 0
				end = bucketEnd(bucket, frames, n) * block
			}
		}
		if err != nil {
			break // a short file: the rest stays silent
		}
	}
	return out, nil
}

// stereoPeaksOf is peaksOf per channel of a stereo file: n buckets of the left channel, then n
// of the right.
func stereoPeaksOf(r io.Reader, frames int64, n int) ([]byte, error) {
	out := make([]byte, 2*n)
	if frames <= 0 {
		return out, nil
	}
	const block = 4
	total := frames * block
	buf := make([]byte, 256<<10)
	var pos int64
	bucket := 0
	end := bucketEnd(0, frames, n) * block
	left, right := 0, 0
	for pos < total {
		m, err := io.ReadFull(r, buf[:min(int64(len(buf)), total-pos)])
		m &^= block - 1
		chunk := buf[:m]
		for len(chunk) > 0 {
			take := min(int64(len(chunk)), end-pos)
			l, rt := stereoPeakOf(chunk[:take])
			left, right = max(left, l), max(right, rt)
			chunk = chunk[take:]
			pos += take
			for pos >= end && bucket < n {
				out[bucket] = byte(min(255, (left*255+32767)/32768))
				out[n+bucket] = byte(min(255, (right*255+32767)/32768))
				bucket++
				left, right = 0, 0
				end = bucketEnd(bucket, frames, n) * block
			}
		}
		if err != nil {
			break // a short file: the rest stays silent
		}
	}
	return out, nil
}

// stereoPeakOf is the largest magnitude of each channel among the interleaved little-endian
// 16-bit stereo frames in b (a multiple of 4 bytes).
func stereoPeakOf(b []byte) (int, int) {
	var llo, lhi, rlo, rhi int16
	if littleEndian { // as peakOf: the samples in place, two frames' running extremes at a time
		s := unsafe.Slice((*int16)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/2)
		var llo1, lhi1, rlo1, rhi1 int16
		for len(s) >= 4 {
			llo, lhi = min(llo, s[0]), max(lhi, s[0])
			rlo, rhi = min(rlo, s[1]), max(rhi, s[1])
			llo1, lhi1 = min(llo1, s[2]), max(lhi1, s[2])
			rlo1, rhi1 = min(rlo1, s[3]), max(rhi1, s[3])
			s = s[4:]
		}
		if len(s) >= 2 {
			llo, lhi = min(llo, s[0]), max(lhi, s[0])
			rlo, rhi = min(rlo, s[1]), max(rhi, s[1])
		}
		llo, lhi, rlo, rhi = min(llo, llo1), max(lhi, lhi1), min(rlo, rlo1), max(rhi, rhi1)
		return max(int(lhi), -int(llo)), max(int(rhi), -int(rlo))
	}
	for ; len(b) >= 4; b = b[4:] {
		l, r := int16(binary.LittleEndian.Uint16(b)), int16(binary.LittleEndian.Uint16(b[2:]))
		llo, lhi = min(llo, l), max(lhi, l)
		rlo, rhi = min(rlo, r), max(rhi, r)
	}
	return max(int(lhi), -int(llo)), max(int(rhi), -int(rlo))
}

// peakOf is the largest magnitude among the little-endian 16-bit samples in b (an even length).
func peakOf(b []byte) int {
	var lo, hi int16
	if littleEndian {
		// The samples as they lie in memory, four independent running extremes so the
		// compare-and-moves do not wait on each other.
		s := unsafe.Slice((*int16)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/2)
		var lo1, hi1, lo2, hi2, lo3, hi3 int16
		for len(s) >= 4 {
			lo, hi = min(lo, s[0]), max(hi, s[0])
			lo1, hi1 = min(lo1, s[1]), max(hi1, s[1])
			lo2, hi2 = min(lo2, s[2]), max(hi2, s[2])
			lo3, hi3 = min(lo3, s[3]), max(hi3, s[3])
			s = s[4:]
		}
		for _, v := range s {
			lo, hi = min(lo, v), max(hi, v)
		}
		lo, hi = min(lo, lo1, lo2, lo3), max(hi, hi1, hi2, hi3)
		return max(int(hi), -int(lo))
	}
	for len(b) >= 2 {
		v := int16(binary.LittleEndian.Uint16(b))
		lo, hi = min(lo, v), max(hi, v)
		b = b[2:]
	}
	return max(int(hi), -int(lo))
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// bucketEnd is the first frame after bucket b of n over frames.
func bucketEnd(b int, frames int64, n int) int64 {
	return (int64(b) + 1) * frames / int64(n)
}

// PeakBuckets is the waveform's resolution: one bucket per 1/1000 of the recording.
const PeakBuckets = 1000
