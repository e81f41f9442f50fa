package audio

import (
	"bytes"
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
		return openFLAC(r)
	case bytes.HasPrefix(m, []byte("OggS")):
		return openOgg(r)
	case bytes.HasPrefix(m, []byte("ID3")) || (n >= 2 && m[0] == 0xFF && m[1]&0xE0 == 0xE0):
		return openMP3(r)
	}
	return nil, errorf(CodeUnsupportedFormat, "unknown file type")
}

// safeRead calls d.Read and turns a decoder panic into corrupt_file.
func safeRead(d decoder, dst []float32) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, errorf(CodeCorruptFile, "decoder failed: %v", p)
		}
	}()
	return d.Read(dst)
}

// Probe reads the header of any supported file. Frames is exact for WAV and FLAC, from the
// stream's end for Ogg Vorbis, and from a frame scan for MP3 (without the encoder delay trim).
func Probe(r io.ReadSeeker) (Format, error) {
	d, err := open(r)
	if err != nil {
		return Format{}, err
	}
	return d.Format(), nil
}

var _ = fmt.Sprintf
