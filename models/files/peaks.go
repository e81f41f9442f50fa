package files

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
)

// ErrNotPCM16 is returned by Peaks for anything but a 16-bit PCM WAV (the engine's recordings).
var ErrNotPCM16 = errors.New("files: not a 16-bit PCM WAV")

// Peaks computes a waveform of n buckets from a 16-bit PCM WAV: each byte is the loudest
// sample of its stretch of time over all channels, scaled to 0..255. The data chunk's size is
// trusted only up to the end of the file (size is the file's length), so a recording cut off by
// a crash, or still being written, gives the peaks of what is there.
func Peaks(r io.Reader, size int64, n int) ([]byte, error) {
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

// peakOf is the largest magnitude among the little-endian 16-bit samples in b.
func peakOf(b []byte) int {
	lo, hi := int16(0), int16(0)
	for len(b) >= 8 {
		v0 := int16(binary.LittleEndian.Uint16(b[0:]))
		v1 := int16(binary.LittleEndian.Uint16(b[2:]))
		v2 := int16(binary.LittleEndian.Uint16(b[4:]))
		v3 := int16(binary.LittleEndian.Uint16(b[6:]))
		lo, hi = min(lo, v0, v1, v2, v3), max(hi, v0, v1, v2, v3)
		b = b[8:]
	}
	for len(b) >= 2 {
		v := int16(binary.LittleEndian.Uint16(b))
		lo, hi = min(lo, v), max(hi, v)
		b = b[2:]
	}
	return max(int(hi), -int(lo))
}

// bucketEnd is the first frame after bucket b of n over frames.
func bucketEnd(b int, frames int64, n int) int64 {
	return (int64(b) + 1) * frames / int64(n)
}
