package recorder

// PCM sample helpers: the frames the file gets, stereo (caller left, callee right) or mono
// (both mixed).

import "encoding/binary"

// interleave writes little-endian stereo frames, one 32-bit store per frame.
func interleave(o []byte, a, b []int16) {
	b = b[:len(a)]
	o = o[:4*len(a)]
	for j := range a {
		binary.LittleEndian.PutUint32(o[4*j:4*j+4], uint32(uint16(a[j]))|uint32(uint16(b[j]))<<16)
	}
}

// mix writes the clipped sum of both directions as little-endian mono frames.
func mix(o []byte, a, b []int16) {
	b = b[:len(a)]
	o = o[:2*len(a)]
	for j := range a {
		binary.LittleEndian.PutUint16(o[2*j:2*j+2], uint16(sat(int32(a[j])+int32(b[j]))))
	}
}
