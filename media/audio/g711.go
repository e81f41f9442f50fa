package audio

// G.711 companding (ITU-T G.711, the classic Sun reference formulation). Encoding and
// decoding are table lookups so a 20 ms packet costs 160 loads: the engine runs this for
// every packet of every leg. All functions write into the caller's buffer and process
// min(len(dst), len(src)) samples; they never allocate.

const (
	g711SignBit   = 0x80
	g711QuantMask = 0x0F
	g711SegShift  = 4
	g711SegMask   = 0x70
	ulawBias      = 0x84
	ulawClip      = 8159 // in 14-bit units, i.e. 32635 >> 2
)

var (
	ulawSegEnd = [8]int{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF}
	alawSegEnd = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}
)

// The encoders only look at the top 14 (mu-law) or 13 (A-law) bits of a sample, so the
// tables are indexed by the sample's bit pattern shifted right: 16 KiB and 8 KiB, small
// enough to stay in L2 cache, unlike a 64 KiB table per law.
var (
	ulawDecTable [256]int16
	alawDecTable [256]int16
	ulawEncTable [1 << 14]byte
	alawEncTable [1 << 13]byte
	ulawToAlaw   [256]byte
	alawToUlaw   [256]byte
)

func init() {
	for i := range 256 {
		ulawDecTable[i] = ulawDecodeRef(byte(i))
		alawDecTable[i] = alawDecodeRef(byte(i))
	}
	for i := range 1 << 14 {
		ulawEncTable[i] = ulawEncodeRef(int16(uint16(i) << 2))
	}
	for i := range 1 << 13 {
		alawEncTable[i] = alawEncodeRef(int16(uint16(i) << 3))
	}
	for i := range 256 {
		ulawToAlaw[i] = alawEncodeRef(ulawDecTable[i])
		alawToUlaw[i] = ulawEncodeRef(alawDecTable[i])
	}
}

func segment(v int, ends *[8]int) int {
	for i, e := range ends {
		if v <= e {
			return i
		}
	}
	return 8
}

func ulawEncodeRef(s int16) byte {
	v := int(s) >> 2
	mask := 0xFF
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	v = min(v, ulawClip)
	v += ulawBias >> 2
	seg := segment(v, &ulawSegEnd)
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	return byte((seg<<4 | (v>>(seg+1))&g711QuantMask) ^ mask)
}

func ulawDecodeRef(u byte) int16 {
	u = ^u
	t := (int(u&g711QuantMask) << 3) + ulawBias
	t <<= (u & g711SegMask) >> g711SegShift
	if u&g711SignBit != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

func alawEncodeRef(s int16) byte {
	v := int(s) >> 3
	mask := 0xD5
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := segment(v, &alawSegEnd)
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	a := seg << g711SegShift
	if seg < 2 {
		a |= (v >> 1) & g711QuantMask
	} else {
		a |= (v >> seg) & g711QuantMask
	}
	return byte(a ^ mask)
}

func alawDecodeRef(a byte) int16 {
	a ^= 0x55
	t := int(a&g711QuantMask) << 4
	switch seg := int(a&g711SegMask) >> g711SegShift; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&g711SignBit != 0 {
		return int16(t)
	}
	return int16(-t)
}

// ULawEncode compresses 16-bit linear PCM to mu-law (PCMU).
func ULawEncode(dst []byte, src []int16) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = ulawEncTable[uint16(s)>>2]
	}
}

// ULawDecode expands mu-law (PCMU) to 16-bit linear PCM.
func ULawDecode(dst []int16, src []byte) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = ulawDecTable[b]
	}
}

// ALawEncode compresses 16-bit linear PCM to A-law (PCMA).
func ALawEncode(dst []byte, src []int16) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = alawEncTable[uint16(s)>>3]
	}
}

// ALawDecode expands A-law (PCMA) to 16-bit linear PCM.
func ALawDecode(dst []int16, src []byte) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = alawDecTable[b]
	}
}

// ULawToALaw transcodes mu-law to A-law through the linear value, for bridging a PCMU leg
// to a PCMA leg without a PCM buffer. dst and src may be the same slice.
func ULawToALaw(dst, src []byte) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = ulawToAlaw[b]
	}
}

// ALawToULaw transcodes A-law to mu-law. dst and src may be the same slice.
func ALawToULaw(dst, src []byte) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = alawToUlaw[b]
	}
}
