package audio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"
)

// WAV format tags we decode.
const (
	wavePCM        = 0x0001
	waveFloat      = 0x0003
	waveALaw       = 0x0006
	waveULaw       = 0x0007
	waveExtensible = 0xFFFE
)

// maxFmtChunk bounds what we read of a fmt chunk: the largest real one (extensible) is 40 bytes,
// and anything bigger is only ever an attempt to make us allocate.
const maxFmtChunk = 1 << 10

// wavReader decodes the data chunk of a WAV file to mono float32. Every size it is told is
// checked against the real file size before it is believed, and it never allocates more than
// one fixed block, whatever the header claims.
type wavReader struct {
	f       Format
	tag     uint16
	width   int // container bytes per sample
	align   int // bytes per frame
	br      *bufio.Reader
	left    int64 // data bytes still to read
	raw     []byte
	g711    []int16
	g711dec func(dst []int16, src []byte)
}

// sizeOf returns the length of r and rewinds it to the start.
func sizeOf(r io.ReadSeeker) (int64, error) {
	n, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	return n, nil
}

// parseWAV reads the RIFF structure up to the data chunk and leaves r positioned at the first
// sample.
func parseWAV(r io.ReadSeeker) (*wavReader, error) {
	size, err := sizeOf(r)
	if err != nil {
		return nil, err
	}
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, readErr(err, "RIFF header")
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		if string(hdr[0:4]) == "RF64" || string(hdr[0:4]) == "RIFX" {
			return nil, errorf(CodeUnsupportedFormat, "%s WAV files are not supported", hdr[0:4])
		}
		return nil, errorf(CodeUnsupportedFormat, "not a RIFF/WAVE file")
	}
	w := &wavReader{f: Format{Container: "wav"}}
	var haveFmt bool
	dataOff, dataLen := int64(-1), int64(0)
	pos := int64(12)
	for {
		if haveFmt && dataOff >= 0 {
			break
		}
		if size-pos < 8 {
			if !haveFmt {
				if pos >= size {
					return nil, errorf(CodeCorruptFile, "no fmt chunk")
				}
				return nil, errorf(CodeTruncatedFile, "file ends inside a chunk header")
			}
			return nil, errorf(CodeCorruptFile, "no data chunk")
		}
		if _, err := r.Seek(pos, io.SeekStart); err != nil {
			return nil, err
		}
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, readErr(err, "chunk header")
		}
		id := string(ch[0:4])
		clen := int64(binary.LittleEndian.Uint32(ch[4:8]))
		body := pos + 8
		switch id {
		case "fmt ":
			if clen < 16 || clen > maxFmtChunk {
				return nil, errorf(CodeCorruptFile, "fmt chunk of %d bytes", clen)
			}
			if body+clen > size {
				return nil, errorf(CodeTruncatedFile, "file ends inside the fmt chunk")
			}
			buf := make([]byte, clen)
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, readErr(err, "fmt chunk")
			}
			if err := w.parseFmt(buf); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			dataOff = body
			// Streaming writers leave 0 or 0xFFFFFFFF when they cannot seek back; the data then
			// runs to the end of the file.
			if clen == 0 || clen == 0xFFFFFFFF {
				clen = size - body
			} else if body+clen > size {
				return nil, errorf(CodeTruncatedFile, "data chunk claims %d bytes, file has %d", clen, size-body)
			}
			dataLen = clen
		default:
			if body+clen > size {
				return nil, errorf(CodeTruncatedFile, "%q chunk claims %d bytes, file has %d", id, clen, size-body)
			}
		}
		pos = body + clen + clen&1
	}
	frames := dataLen / int64(w.align)
	w.f.Frames = frames
	w.left = frames * int64(w.align)
	if _, err := r.Seek(dataOff, io.SeekStart); err != nil {
		return nil, err
	}
	w.br = bufio.NewReaderSize(r, 64<<10)
	return w, nil
}

func (w *wavReader) parseFmt(b []byte) error {
	tag := binary.LittleEndian.Uint16(b[0:2])
	channels := int(binary.LittleEndian.Uint16(b[2:4]))
	rate := int(binary.LittleEndian.Uint32(b[4:8]))
	align := int(binary.LittleEndian.Uint16(b[12:14]))
	bits := int(binary.LittleEndian.Uint16(b[14:16]))
	if tag == waveExtensible {
		if len(b) < 40 {
			return errorf(CodeCorruptFile, "extensible fmt chunk of %d bytes", len(b))
		}
		if valid := int(binary.LittleEndian.Uint16(b[18:20])); valid > 0 && valid <= bits {
			bits = valid
		}
		// The sub-format GUID starts with the classic format tag.
		tag = binary.LittleEndian.Uint16(b[24:26])
	}
	if err := checkShape(rate, channels); err != nil {
		return err
	}
	w.f.Rate, w.f.Channels, w.f.Bits = rate, channels, bits
	if align <= 0 || align%channels != 0 {
		return errorf(CodeCorruptFile, "block align %d for %d channels", align, channels)
	}
	w.width = align / channels
	w.align = align
	if bits <= 0 || bits > 8*w.width {
		return errorf(CodeCorruptFile, "%d bits in %d-byte samples", bits, w.width)
	}
	switch tag {
	case wavePCM:
		w.f.Codec = "pcm"
		if w.width < 1 || w.width > 4 {
			return errorf(CodeUnsupportedFormat, "%d-byte PCM samples", w.width)
		}
	case waveFloat:
		w.f.Codec = "float"
		if w.width != 4 && w.width != 8 {
			return errorf(CodeUnsupportedFormat, "%d-byte float samples", w.width)
		}
	case waveULaw, waveALaw:
		if w.width != 1 {
			return errorf(CodeUnsupportedFormat, "%d-byte G.711 samples", w.width)
		}
		w.f.Codec = "ulaw"
		w.g711dec = ULawDecode
		if tag == waveALaw {
			w.f.Codec = "alaw"
			w.g711dec = ALawDecode
		}
	default:
		return errorf(CodeUnsupportedFormat, "WAV format tag 0x%04x", tag)
	}
	w.tag = tag
	return nil
}

// readErr turns a short read of something the header promised into truncated_file.
func readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(CodeTruncatedFile, "file ends inside the %s", what)
	}
	return err
}

func (w *wavReader) Format() Format { return w.f }

// Read fills dst with mono samples in [-1, 1] (float WAVs may exceed it).
func (w *wavReader) Read(dst []float32) (int, error) {
	if w.left == 0 {
		return 0, io.EOF
	}
	if w.raw == nil {
		n := (32 << 10) / w.align
		if n < 1 {
			n = 1
		}
		w.raw = make([]byte, n*w.align)
	}
	frames := len(dst)
	if max := len(w.raw) / w.align; frames > max {
		frames = max
	}
	if rest := w.left / int64(w.align); int64(frames) > rest {
		frames = int(rest)
	}
	raw := w.raw[:frames*w.align]
	if _, err := io.ReadFull(w.br, raw); err != nil {
		return 0, readErr(err, "data chunk")
	}
	w.left -= int64(len(raw))
	w.decode(dst[:frames], raw)
	return frames, nil
}

func (w *wavReader) decode(dst []float32, raw []byte) {
	ch := w.f.Channels
	inv := 1 / float32(ch)
	switch {
	case w.g711dec != nil:
		if cap(w.g711) < len(raw) {
			w.g711 = make([]int16, len(raw))
		}
		s := w.g711[:len(raw)]
		w.g711dec(s, raw)
		for i := range dst {
			var acc int32
			for c := 0; c < ch; c++ {
				acc += int32(s[i*ch+c])
			}
			dst[i] = float32(acc) * (inv / 32768)
		}
	case w.tag == wavePCM && w.width == 2 && ch == 1:
		for i := range dst {
			dst[i] = float32(int16(binary.LittleEndian.Uint16(raw[2*i:]))) * (1.0 / 32768)
		}
	case w.tag == wavePCM && w.width == 2 && ch == 2:
		for i := range dst {
			b := raw[4*i : 4*i+4]
			l := int32(int16(uint16(b[0]) | uint16(b[1])<<8))
			r := int32(int16(uint16(b[2]) | uint16(b[3])<<8))
			dst[i] = float32(l+r) * (1.0 / 65536)
		}
	case w.tag == wavePCM:
		scale := inv / float32(int64(1)<<(8*w.width-1))
		for i := range dst {
			var acc int64
			for c := 0; c < ch; c++ {
				acc += pcmSample(raw[(i*ch+c)*w.width:], w.width)
			}
			dst[i] = float32(acc) * scale
		}
	case w.width == 4: // float32
		for i := range dst {
			var acc float32
			for c := 0; c < ch; c++ {
				acc += sane(math.Float32frombits(binary.LittleEndian.Uint32(raw[(i*ch+c)*4:])))
			}
			dst[i] = acc * inv
		}
	default: // float64
		for i := range dst {
			var acc float64
			for c := 0; c < ch; c++ {
				acc += float64(sane(float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[(i*ch+c)*8:])))))
			}
			dst[i] = float32(acc) * inv
		}
	}
}

// pcmSample reads one little-endian integer sample of width bytes; 8-bit WAV is unsigned.
func pcmSample(b []byte, width int) int64 {
	switch width {
	case 1:
		return int64(b[0]) - 128
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(b)))
	case 3:
		return int64(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8)
	default:
		return int64(int32(binary.LittleEndian.Uint32(b)))
	}
}

// sane maps NaN and absurd values in float WAVs to silence so they cannot poison the peak.
func sane(x float32) float32 {
	if x != x || x > 1e6 || x < -1e6 {
		return 0
	}
	return x
}
