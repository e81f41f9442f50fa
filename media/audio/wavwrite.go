package audio

import (
	"encoding/binary"
	"io"
)

// targetHeader is the 44-byte header of a WAV PCM u8 16 kHz mono file with dataLen sample bytes.
// The RIFF size counts the pad byte that follows an odd-length data chunk.
func targetHeader(dataLen uint32) []byte {
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+dataLen+dataLen&1)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], wavePCM)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], TargetRate)
	binary.LittleEndian.PutUint32(h[28:], TargetRate) // byte rate: one byte per sample
	binary.LittleEndian.PutUint16(h[32:], 1)
	binary.LittleEndian.PutUint16(h[34:], TargetBits)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], dataLen)
	return h
}

// ditherer quantises float samples to unsigned 8-bit with TPDF dither (two uniform variates, ±1
// LSB peak). Its generator is seeded with a constant so a conversion is reproducible byte for
// byte.
type ditherer struct{ s uint64 }

func newDitherer() *ditherer { return &ditherer{s: 0x9E3779B97F4A7C15} }

func (d *ditherer) uniform() float32 {
	// xorshift64*: fast and plenty for dither.
	d.s ^= d.s >> 12
	d.s ^= d.s << 25
	d.s ^= d.s >> 27
	return float32((d.s*2685821657736338717)>>40) * (1.0 / (1 << 24))
}

// quantise writes one byte per sample of src (already scaled so full scale is ±1) to dst.
func (d *ditherer) quantise(dst []byte, src []float32, dither bool) {
	for i, x := range src {
		v := x*128 + 128.5
		if dither {
			v += d.uniform() - d.uniform()
		}
		switch {
		case v < 0:
			v = 0
		case v > 255:
			v = 255
		}
		dst[i] = byte(v)
	}
}

// writeFull is io.Writer.Write that treats a short write as an error.
func writeFull(w io.Writer, b []byte) error {
	n, err := w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}
