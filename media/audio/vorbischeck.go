package audio

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
)

// The vorbis library sizes its tables from header fields before it reads the bits that would
// prove them: a few hundred crafted bytes can ask for gigabytes (a codebook of 2^24 entries by
// 65535 dimensions, 2^32 comments), and a failed allocation that large kills the whole process,
// which here is the web server and the call engine. So the three header packets are checked
// first, against limits far above what any encoder writes.
const (
	maxVorbisHeaders   = 1 << 20 // bytes of the three header packets together
	maxCodebookEntries = 1 << 16 // per codebook; libvorbis stays below 2^13
	maxCodebookValues  = 1 << 20 // entries*dimensions, all codebooks together
)

// maxPagesPerPacket bounds how many consecutive Ogg pages may pass without a packet ending.
// The Ogg reader recurses once per such page, so a file of millions of empty pages would grow
// its stack by hundreds of megabytes, and it gathers a packet in memory whatever its length;
// real Vorbis packets span a page or two.
const maxPagesPerPacket = 64

// checkOggPages walks the page headers of the whole file (seeking over the bodies) and rejects
// long runs of pages that end no packet. It stops quietly at the first broken page: the decoder
// reports that one itself.
func checkOggPages(r io.ReadSeeker, size int64) error {
	var h [27 + 255]byte
	run := 0
	for pos := int64(0); pos+27 <= size; {
		if _, err := r.Seek(pos, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.ReadFull(r, h[:27]); err != nil || string(h[:4]) != "OggS" {
			return nil
		}
		n := int(h[26])
		if _, err := io.ReadFull(r, h[27:27+n]); err != nil {
			return nil
		}
		body, ends := 0, false
		for _, l := range h[27 : 27+n] {
			body += int(l)
			ends = ends || l < 255
		}
		if ends {
			run = 0
		} else if run++; run > maxPagesPerPacket {
			return errorf(CodeCorruptFile, "ogg: %d pages in a row end no packet", run)
		}
		pos += int64(27 + n + body)
	}
	return nil
}

// checkVorbisHeaders reads the header packets of the first logical stream of an Ogg file.
func checkVorbisHeaders(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var packets [][]byte
	var cur []byte
	var serial uint32
	first := true
	total := 0
	for len(packets) < 3 {
		var h [27]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return readErr(err, "Ogg headers")
		}
		if string(h[0:4]) != "OggS" {
			return errorf(CodeCorruptFile, "ogg: lost page sync in the headers")
		}
		var segs [255]byte
		n := int(h[26])
		if _, err := io.ReadFull(br, segs[:n]); err != nil {
			return readErr(err, "Ogg headers")
		}
		s := binary.LittleEndian.Uint32(h[14:18])
		if first {
			serial, first = s, false
		}
		for _, l := range segs[:n] {
			body := make([]byte, l)
			if _, err := io.ReadFull(br, body); err != nil {
				return readErr(err, "Ogg headers")
			}
			if s != serial {
				continue // another multiplexed stream
			}
			total += int(l)
			if total > maxVorbisHeaders {
				return errorf(CodeCorruptFile, "ogg: header packets larger than %d bytes", maxVorbisHeaders)
			}
			cur = append(cur, body...)
			if l < 255 {
				packets = append(packets, cur)
				cur = nil
				if len(packets) == 3 {
					break
				}
			}
		}
	}
	id, comment, setup := packets[0], packets[1], packets[2]
	if len(id) < 30 || string(id[:7]) != "\x01vorbis" {
		return errorf(CodeUnsupportedFormat, "ogg: not a Vorbis stream")
	}
	if err := checkShape(int(binary.LittleEndian.Uint32(id[12:16])), int(id[11])); err != nil {
		return err
	}
	b0, b1 := id[28]&0x0f, id[28]>>4
	if b0 < 6 || b1 > 13 || b0 > b1 {
		return errorf(CodeCorruptFile, "ogg: block sizes 2^%d and 2^%d", b0, b1)
	}
	if len(comment) < 7+8 || string(comment[:7]) != "\x03vorbis" {
		return errorf(CodeCorruptFile, "ogg: no Vorbis comment header")
	}
	c := comment[7:]
	vendor := int64(binary.LittleEndian.Uint32(c))
	if 4+vendor+4 > int64(len(c)) {
		return errorf(CodeCorruptFile, "ogg: vendor string runs past its header")
	}
	if n := int64(binary.LittleEndian.Uint32(c[4+vendor:])); n*4 > int64(len(c)) {
		return errorf(CodeCorruptFile, "ogg: %d comments in a %d-byte header", n, len(c))
	}
	if len(setup) < 7 || string(setup[:7]) != "\x05vorbis" {
		return errorf(CodeCorruptFile, "ogg: no Vorbis setup header")
	}
	return checkCodebooks(setup[7:])
}

// lsbBits reads a Vorbis bitstream: least significant bit first. Reading past the end gives
// zeros and sets over.
type lsbBits struct {
	b    []byte
	pos  int
	over bool
}

func (r *lsbBits) read(n int) uint64 {
	var v uint64
	for i := 0; i < n; i++ {
		if r.pos>>3 >= len(r.b) {
			r.over = true
			return v
		}
		v |= uint64(r.b[r.pos>>3]>>(r.pos&7)&1) << i
		r.pos++
	}
	return v
}

func (r *lsbBits) skip(n uint64) {
	if uint64(r.pos)+n > uint64(len(r.b))*8 {
		r.over = true
		r.pos = len(r.b) * 8
		return
	}
	r.pos += int(n)
}

func ilog(x uint64) int {
	n := 0
	for ; x > 0; x >>= 1 {
		n++
	}
	return n
}

func checkCodebooks(setup []byte) error {
	r := &lsbBits{b: setup}
	count := int(r.read(8)) + 1
	var values uint64
	for i := 0; i < count; i++ {
		if r.read(24) != 0x564342 {
			return errorf(CodeCorruptFile, "ogg: codebook %d has no sync pattern", i)
		}
		dims := r.read(16)
		entries := r.read(24)
		if entries < 1 || entries > maxCodebookEntries || dims < 1 {
			return errorf(CodeCorruptFile, "ogg: codebook of %d entries by %d dimensions", entries, dims)
		}
		values += entries * dims
		if values > maxCodebookValues {
			return errorf(CodeCorruptFile, "ogg: codebooks hold more than %d values", maxCodebookValues)
		}
		if r.read(1) == 0 { // not ordered
			sparse := r.read(1) == 1
			for e := uint64(0); e < entries && !r.over; e++ {
				if !sparse || r.read(1) == 1 {
					r.read(5)
				}
			}
		} else {
			r.read(5)
			for e := uint64(0); e < entries && !r.over; {
				e += r.read(ilog(entries - e))
			}
		}
		switch lookup := r.read(4); lookup {
		case 0:
		case 1, 2:
			r.skip(32 + 32)
			bits := r.read(4) + 1
			r.read(1)
			n := entries * dims
			if lookup == 1 {
				n = uint64(math.Floor(math.Pow(float64(entries), 1/float64(dims))))
			}
			r.skip(n * bits)
		default:
			return errorf(CodeCorruptFile, "ogg: codebook lookup type %d", lookup)
		}
		if r.over {
			return errorf(CodeCorruptFile, "ogg: setup header ends inside codebook %d", i)
		}
	}
	return nil
}
