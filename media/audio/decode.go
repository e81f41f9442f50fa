package audio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// decoder is one open input stream, already mixed down to mono.
type decoder interface {
	// Format is the input's format as stored (Channels counts the input's channels).
	Format() Format
	// Read fills dst with mono samples, nominally in [-1, 1]; io.EOF at the end.
	Read(dst []float32) (int, error)
}

// open sniffs the container and returns its decoder, positioned at the first sample.
func open(r io.ReadSeeker) (d decoder, err error) {
	var magic [12]byte
	n, err := io.ReadFull(r, magic[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	m := magic[:n]
	// Third-party decoders panic on some hostile inputs; a bad upload must stay a user error.
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, errorf(CodeCorruptFile, "decoder failed: %v", p)
		}
	}()
	switch {
	case n == 0:
		return nil, errorf(CodeNoAudio, "empty file")
	case bytes.HasPrefix(m, []byte("RIFF")) || bytes.HasPrefix(m, []byte("RF64")) || bytes.HasPrefix(m, []byte("RIFX")):
		return parseWAV(r)
	case bytes.HasPrefix(m, []byte("fLaC")):
		return openFLAC(r, 0)
	case bytes.HasPrefix(m, []byte("OggS")):
		return openOgg(r)
	case bytes.HasPrefix(m, []byte("ID3")):
		// An ID3v2 tag may precede FLAC as well as MP3.
		size, err := sizeOf(r)
		if err != nil {
			return nil, err
		}
		off, err := id3End(r, size)
		if err != nil {
			return nil, err
		}
		var sig [4]byte
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(r, sig[:]); err == nil && string(sig[:]) == "fLaC" {
			return openFLAC(r, off)
		}
		return openMP3(r)
	case n >= 2 && m[0] == 0xFF && m[1]&0xE0 == 0xE0:
		return openMP3(r)
	}
	return nil, errorf(CodeUnsupportedFormat, "unknown file type")
}

// safeRead calls d.Read and turns a decoder panic into corrupt_file, and a decoder that keeps
// returning nothing without an error (a crafted stream of empty packets) into one too.
func safeRead(d decoder, dst []float32) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, errorf(CodeCorruptFile, "decoder failed: %v", p)
		}
	}()
	for range 1000 {
		if n, err = d.Read(dst); n > 0 || err != nil {
			return n, err
		}
	}
	return 0, errorf(CodeCorruptFile, "decoder makes no progress")
}

// Probe reads the header of any supported file. Frames is exact for WAV and FLAC, from the
// stream's end for Ogg Vorbis, and from a frame scan for MP3 (without the encoder delay trim).
func Probe(r io.ReadSeeker) (Format, error) {
	d, err := open(r)
	if err != nil {
		return Format{}, err
	}
	f := d.Format()
	if f.Frames == 0 {
		return f, errorf(CodeNoAudio, "no samples")
	}
	return f, nil
}

// libErr classifies an error of a third-party decoder: running out of bytes is a truncated file,
// anything else a corrupt one.
func libErr(lib string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(CodeTruncatedFile, "%s: %v", lib, err)
	}
	return errorf(CodeCorruptFile, "%s: %v", lib, fmt.Sprint(err))
}
