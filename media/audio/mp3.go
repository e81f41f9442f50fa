package audio

import (
	"encoding/binary"
	"io"

	"github.com/hajimehoshi/go-mp3"
)

// MP3 gapless handling. go-mp3 returns everything the bitstream holds: the encoder's priming
// samples, the synthesis filterbank's delay and, when present, the Xing/Info frame decoded as a
// frame of silence. We drop
//   - the Xing/Info/VBRI frame's samples when the first frame is such a tag frame,
//   - the encoder delay from the LAME tag, or LAME's usual 576 when there is no LAME tag,
//   - the decoder delay of 528+1 samples,
//
// and, when a Xing frame count and LAME padding are known, stop after exactly
// frames*samplesPerFrame - delay - padding samples (the encoder's input length).
const (
	mp3DecoderDelay = 528 + 1
	mp3DefaultDelay = 576
)

type mp3Reader struct {
	f    Format
	d    *mp3.Decoder
	skip int64 // samples still to drop at the start
	left int64 // samples still to deliver, -1 when unknown
	raw  []byte
}

// id3End returns the offset after any ID3v2 tags at the start of r, refusing tags larger than
// the file (go-mp3 would allocate whatever size the tag header claims).
func id3End(r io.ReadSeeker, size int64) (int64, error) {
	off := int64(0)
	for {
		var h [10]byte
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(r, h[:]); err != nil || string(h[:3]) != "ID3" {
			return off, nil
		}
		n := int64(h[6]&0x7f)<<21 | int64(h[7]&0x7f)<<14 | int64(h[8]&0x7f)<<7 | int64(h[9]&0x7f)
		n += 10
		if h[5]&0x10 != 0 {
			n += 10 // footer
		}
		if off+n > size {
			return 0, errorf(CodeTruncatedFile, "ID3 tag of %d bytes in a file of %d", n, size)
		}
		off += n
	}
}

// mp3Info is what the first frame tells about the stream.
type mp3Info struct {
	rate, spf  int // sample rate, samples per frame
	channels   int
	tagFrame   bool  // first frame is Xing/Info/VBRI (decodes to silence)
	frames     int64 // audio frames after the tag frame, 0 when unknown
	delay, pad int
	haveLAME   bool
}

var mp3Rates = [4][3]int{{11025, 12000, 8000}, {0, 0, 0}, {22050, 24000, 16000}, {44100, 48000, 32000}}

func parseMP3Head(b []byte) (mp3Info, bool) {
	var in mp3Info
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return in, false
	}
	ver := (b[1] >> 3) & 3 // 3 = MPEG1, 2 = MPEG2, 0 = MPEG2.5
	layer := (b[1] >> 1) & 3
	ri := (b[2] >> 2) & 3
	if ver == 1 || layer != 1 || ri == 3 { // layer bits 01 = Layer III
		return in, false
	}
	in.rate = mp3Rates[ver][ri]
	mono := b[3]>>6 == 3
	in.channels = 2
	if mono {
		in.channels = 1
	}
	side := 32
	switch {
	case ver == 3 && mono:
		side = 17
	case ver != 3 && !mono:
		side = 17
	case ver != 3 && mono:
		side = 9
	}
	in.spf = 1152
	if ver != 3 {
		in.spf = 576
	}
	x := 4 + side
	if len(b) >= x+8 && (string(b[x:x+4]) == "Xing" || string(b[x:x+4]) == "Info") {
		in.tagFrame = true
		flags := binary.BigEndian.Uint32(b[x+4:])
		p := x + 8
		if flags&1 != 0 && len(b) >= p+4 {
			in.frames = int64(binary.BigEndian.Uint32(b[p:]))
			p += 4
		}
		if flags&2 != 0 {
			p += 4
		}
		if flags&4 != 0 {
			p += 100
		}
		if flags&8 != 0 {
			p += 4
		}
		if len(b) >= p+24 && (string(b[p:p+4]) == "LAME" || string(b[p:p+4]) == "Lavc" || string(b[p:p+4]) == "Lavf") {
			d := b[p+21:]
			in.delay = int(d[0])<<4 | int(d[1])>>4
			in.pad = int(d[1]&0x0f)<<8 | int(d[2])
			in.haveLAME = true
		}
	} else if len(b) >= 4+32+4 && string(b[36:40]) == "VBRI" {
		in.tagFrame = true
	}
	return in, true
}

func openMP3(r io.ReadSeeker) (decoder, error) {
	size, err := sizeOf(r)
	if err != nil {
		return nil, err
	}
	start, err := id3End(r, size)
	if err != nil {
		return nil, err
	}
	if _, err := r.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(r, head)
	info, ok := parseMP3Head(head[:n])
	if !ok {
		return nil, errorf(CodeUnsupportedFormat, "no MPEG audio layer III frame at offset %d", start)
	}
	if err := checkShape(info.rate, info.channels); err != nil {
		return nil, err
	}
	sec, err := newSection(r, start, size-start)
	if err != nil {
		return nil, err
	}
	d, err := mp3.NewDecoder(sec)
	if err != nil {
		return nil, libErr("mp3", err)
	}
	m := &mp3Reader{d: d, left: -1}
	delay := mp3DefaultDelay
	if info.haveLAME {
		delay = info.delay
	}
	m.skip = int64(delay + mp3DecoderDelay)
	if info.tagFrame {
		m.skip += int64(info.spf)
	}
	total := d.Length() / 4
	frames := total - m.skip
	if info.frames > 0 && info.haveLAME {
		if exact := info.frames*int64(info.spf) - int64(info.delay) - int64(info.pad); exact > 0 && exact < frames {
			frames = exact
		}
	}
	if frames < 0 {
		frames = 0
	}
	m.left = frames
	m.f = Format{Container: "mp3", Codec: "mp3", Rate: d.SampleRate(), Channels: info.channels, Frames: frames}
	if m.f.Rate != info.rate {
		return nil, errorf(CodeCorruptFile, "first frame says %d Hz, decoder %d Hz", info.rate, m.f.Rate)
	}
	return m, nil
}

func (m *mp3Reader) Format() Format { return m.f }

func (m *mp3Reader) Read(dst []float32) (int, error) {
	for {
		if m.left == 0 {
			return 0, io.EOF
		}
		want := len(dst)
		if int64(want) > m.left {
			want = int(m.left)
		}
		if m.skip > 0 && int64(want) > m.skip {
			want = int(m.skip)
		}
		if cap(m.raw) < 4*want {
			m.raw = make([]byte, 4*want)
		}
		raw := m.raw[:4*want]
		n, err := io.ReadFull(m.d, raw)
		n /= 4
		if err != nil && n == 0 {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				m.left = 0
				return 0, io.EOF
			}
			return 0, errorf(CodeCorruptFile, "mp3: %v", err)
		}
		if m.skip > 0 {
			m.skip -= int64(n)
			continue
		}
		for i := 0; i < n; i++ {
			l := int32(int16(binary.LittleEndian.Uint16(raw[4*i:])))
			r := int32(int16(binary.LittleEndian.Uint16(raw[4*i+2:])))
			dst[i] = float32(l+r) * (1.0 / 65536)
		}
		m.left -= int64(n)
		return n, nil
	}
}
