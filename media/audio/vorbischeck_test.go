package audio

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

var oggCRC = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for j := 0; j < 8; j++ {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return
}()

// oggFile puts each packet on a page of its own (packets under 255*255 bytes).
func oggFile(packets ...[]byte) []byte {
	var out bytes.Buffer
	for i, p := range packets {
		var segs []byte
		n := len(p)
		for ; n >= 255; n -= 255 {
			segs = append(segs, 255)
		}
		segs = append(segs, byte(n))
		h := make([]byte, 27, 27+len(segs)+len(p))
		copy(h, "OggS")
		if i == 0 {
			h[5] = 2
		}
		binary.LittleEndian.PutUint32(h[14:], 1234)
		binary.LittleEndian.PutUint32(h[18:], uint32(i))
		h[26] = byte(len(segs))
		page := append(append(h, segs...), p...)
		var crc uint32
		for _, b := range page {
			crc = crc<<8 ^ oggCRC[byte(crc>>24)^b]
		}
		binary.LittleEndian.PutUint32(page[22:], crc)
		out.Write(page)
	}
	return out.Bytes()
}

func vorbisID(ch byte, rate uint32) []byte {
	b := make([]byte, 30)
	copy(b, "\x01vorbis")
	b[11] = ch
	binary.LittleEndian.PutUint32(b[12:], rate)
	b[28] = 0xB8 // block sizes 256 and 2048
	b[29] = 1
	return b
}

func vorbisComment(vendor string, n uint32) []byte {
	b := []byte("\x03vorbis")
	b = binary.LittleEndian.AppendUint32(b, uint32(len(vendor)))
	b = append(b, vendor...)
	b = binary.LittleEndian.AppendUint32(b, n)
	return append(b, 1)
}

// lsbWriter packs fields least significant bit first, as Vorbis does.
type lsbWriter struct {
	b   []byte
	pos int
}

func (w *lsbWriter) put(v uint64, n int) {
	for i := 0; i < n; i++ {
		if w.pos>>3 >= len(w.b) {
			w.b = append(w.b, 0)
		}
		w.b[w.pos>>3] |= byte(v>>i&1) << (w.pos & 7)
		w.pos++
	}
}

func setupWithCodebook(dims, entries uint64) []byte {
	w := &lsbWriter{}
	w.put(0, 8) // one codebook
	w.put(0x564342, 24)
	w.put(dims, 16)
	w.put(entries, 24)
	w.put(1, 1) // ordered: a handful of bits describe any number of entries
	w.put(0, 5)
	w.put(entries, ilog(entries))
	w.put(1, 4) // lookup type 1
	w.put(0, 32+32+4+1)
	return append([]byte("\x05vorbis"), w.b...)
}

func TestHostileVorbisHeaders(t *testing.T) {
	id := vorbisID(1, 16000)
	okComment := vorbisComment("x", 0)
	cases := []struct {
		name string
		in   []byte
		code string
	}{
		{"4 billion comments", oggFile(id, vorbisComment("x", 0xFFFFFFFF), setupWithCodebook(1, 2)), CodeCorruptFile},
		{"vendor string of 4 GiB", oggFile(id, append([]byte("\x03vorbis\xff\xff\xff\xff"), 0, 0, 0, 0), setupWithCodebook(1, 2)), CodeCorruptFile},
		{"codebook 2^24 x 65535", oggFile(id, okComment, setupWithCodebook(65535, 1<<24-1)), CodeCorruptFile},
		{"codebook without entries", oggFile(id, okComment, setupWithCodebook(1, 0)), CodeCorruptFile},
		{"zero channels", oggFile(vorbisID(0, 16000), okComment, setupWithCodebook(1, 2)), CodeBadChannels},
		{"rate 10 MHz", oggFile(vorbisID(1, 10_000_000), okComment, setupWithCodebook(1, 2)), CodeBadRate},
		{"headers cut short", oggFile(id, okComment)[:60], CodeTruncatedFile},
	}
	for _, c := range cases {
		_, err := Probe(bytes.NewReader(c.in))
		checkCode(t, c.name, err, c.code)
	}
}

// Pages that carry no packet end make the Ogg reader recurse once per page.
func TestOggEmptyPages(t *testing.T) {
	id := vorbisID(1, 16000)
	f := oggFile(id, vorbisComment("x", 0), setupWithCodebook(1, 2))
	empty := oggFile(nil)
	empty = append(empty[:26], 0) // a page with no segments at all
	for i := 0; i < 1000; i++ {
		f = append(f, empty...)
	}
	_, err := Probe(bytes.NewReader(f))
	checkCode(t, "Probe", err, CodeCorruptFile)
	if err == nil || !strings.Contains(err.Error(), "end no packet") {
		t.Errorf("error %v, want the page-run check", err)
	}
}
