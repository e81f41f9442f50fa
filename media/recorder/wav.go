package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// SampleRate is the only rate the recorder writes: G.711's, what the legs carry.
const SampleRate = 8000

const headerSize = 44

// ErrNotOurWAV is returned by Repair for a file that is not a 16-bit PCM 8 kHz mono or
// stereo WAV with the canonical 44-byte header this package writes.
var ErrNotOurWAV = errors.New("recorder: not a recorder WAV file")

// header returns the canonical 44-byte WAV header. Sizes beyond what a RIFF chunk can
// express (a stereo call of 37 hours) are clamped, so a reader sees a valid if short file.
func header(channels int, dataBytes int64) [headerSize]byte {
	var h [headerSize]byte
	pad := dataBytes & 1
	riff := min(36+dataBytes+pad, 0xFFFFFFFF)
	data := min(dataBytes, 0xFFFFFFFF-36-1)
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], uint32(riff))
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], 1) // WAVE_FORMAT_PCM
	le.PutUint16(h[22:], uint16(channels))
	le.PutUint32(h[24:], SampleRate)
	le.PutUint32(h[28:], uint32(SampleRate*2*channels))
	le.PutUint16(h[32:], uint16(2*channels))
	le.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	le.PutUint32(h[40:], uint32(data))
	return h
}

// parseHeader checks that h is a header this package could have written and returns the
// channel count.
func parseHeader(h []byte) (channels int, err error) {
	le := binary.LittleEndian
	if len(h) < headerSize || string(h[0:4]) != "RIFF" || string(h[8:16]) != "WAVEfmt " ||
		le.Uint32(h[16:]) != 16 || string(h[36:40]) != "data" {
		return 0, ErrNotOurWAV
	}
	channels = int(le.Uint16(h[22:]))
	if le.Uint16(h[20:]) != 1 || (channels != 1 && channels != 2) || le.Uint32(h[24:]) != SampleRate ||
		le.Uint16(h[34:]) != 16 || le.Uint16(h[32:]) != uint16(2*channels) ||
		le.Uint32(h[28:]) != uint32(SampleRate*2*channels) {
		return 0, ErrNotOurWAV
	}
	return channels, nil
}

// Repair makes a recording left behind by a crash consistent: it drops a trailing partial
// frame and rewrites the RIFF and data sizes from the file's length, so the audio written
// after the last periodic header update is kept. It is idempotent and leaves a properly
// closed file as it is. The Result has Size, Frames, Duration and Channels; Recorded and
// Segments are unknown after a crash and stay zero.
func Repair(root *os.Root, rel string) (Result, error) {
	f, err := root.OpenFile(rel, os.O_RDWR, 0)
	if err != nil {
		return Result{}, fmt.Errorf("recorder: repair: %w", err)
	}
	res, err := repair(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("recorder: repair %s: %w", rel, cerr)
	}
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

func repair(f *os.File) (Result, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return Result{}, ErrNotOurWAV
		}
		return Result{}, fmt.Errorf("recorder: repair: %w", err)
	}
	channels, err := parseHeader(h[:])
	if err != nil {
		return Result{}, err
	}
	st, err := f.Stat()
	if err != nil {
		return Result{}, fmt.Errorf("recorder: repair: %w", err)
	}
	align := int64(2 * channels)
	frames := (st.Size() - headerSize) / align
	data := frames * align
	if st.Size() != headerSize+data {
		if err := f.Truncate(headerSize + data); err != nil {
			return Result{}, fmt.Errorf("recorder: repair: %w", err)
		}
	}
	if nh := header(channels, data); nh != h {
		if _, err := f.WriteAt(nh[:], 0); err != nil {
			return Result{}, fmt.Errorf("recorder: repair: %w", err)
		}
	}
	return Result{
		Size:     headerSize + data,
		Frames:   frames,
		Duration: framesToDuration(frames),
		Channels: channels,
	}, nil
}

func framesToDuration(n int64) time.Duration {
	return time.Duration(n) * (time.Second / SampleRate)
}

// durationToFrames rounds to the nearest frame (half away from zero).
func durationToFrames(d time.Duration) int64 {
	const half = int64(time.Second / 2)
	if d < 0 {
		return -((int64(-d)*SampleRate + half) / int64(time.Second))
	}
	return (int64(d)*SampleRate + half) / int64(time.Second)
}
