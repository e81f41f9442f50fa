package audio

import (
	"bytes"
	"encoding/binary"
	"math"
)

// wavBytes builds a WAV file in memory: tag 1 (bits 8/16/24/32), 3 (32/64), 6/7 (8), or
// 0xFFFE wrapping subTag. frames[i][c] are in [-1, 1].
func wavBytes(tag uint16, subTag uint16, bits, rate int, frames [][]float64) []byte {
	ch := len(frames[0])
	width := bits / 8
	var data bytes.Buffer
	for _, fr := range frames {
		for _, x := range fr {
			t := tag
			if t == waveExtensible {
				t = subTag
			}
			switch {
			case t == waveFloat && bits == 32:
				binary.Write(&data, binary.LittleEndian, float32(x))
			case t == waveFloat:
				binary.Write(&data, binary.LittleEndian, x)
			case t == waveULaw || t == waveALaw:
				var b [1]byte
				s := []int16{int16(math.Round(x * 32767))}
				if t == waveULaw {
					ULawEncode(b[:], s)
				} else {
					ALawEncode(b[:], s)
				}
				data.WriteByte(b[0])
			case bits == 8:
				data.WriteByte(byte(math.Round(x*127) + 128))
			default:
				v := int64(math.Round(x * float64(int64(1)<<(bits-1)-1)))
				for i := 0; i < width; i++ {
					data.WriteByte(byte(v >> (8 * i)))
				}
			}
		}
	}
	var fmtc bytes.Buffer
	le := func(v any) { binary.Write(&fmtc, binary.LittleEndian, v) }
	le(tag)
	le(uint16(ch))
	le(uint32(rate))
	le(uint32(rate * ch * width))
	le(uint16(ch * width))
	le(uint16(bits))
	if tag == waveExtensible {
		le(uint16(22))
		le(uint16(bits))
		le(uint32(0))
		le(subTag)
		fmtc.Write([]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71})
	}
	var out bytes.Buffer
	w := func(v any) { binary.Write(&out, binary.LittleEndian, v) }
	out.WriteString("RIFF")
	pad := data.Len() & 1
	w(uint32(4 + 8 + fmtc.Len() + 8 + data.Len() + pad))
	out.WriteString("WAVE")
	out.WriteString("fmt ")
	w(uint32(fmtc.Len()))
	out.Write(fmtc.Bytes())
	out.WriteString("data")
	w(uint32(data.Len()))
	out.Write(data.Bytes())
	if pad == 1 {
		out.WriteByte(0)
	}
	return out.Bytes()
}

// tone returns n frames of a sine at freq Hz and amplitude amp on every one of ch channels.
func tone(n, rate, ch int, freq, amp float64) [][]float64 {
	fr := make([][]float64, n)
	for i := range fr {
		v := amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))
		fr[i] = make([]float64, ch)
		for c := range fr[i] {
			fr[i][c] = v
		}
	}
	return fr
}
