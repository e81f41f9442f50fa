package audio

import (
	"testing"
)

// Values from ITU-T G.711 tables 1 and 2, scaled to 16 bits (mu-law x4, A-law x8).
func TestG711DecodeKnownValues(t *testing.T) {
	ulaw := map[byte]int16{
		0x00: -32124, 0x80: 32124, 0xFF: 0, 0x7F: 0, 0xFE: 8, 0x7E: -8,
		0xEF: 132, 0x6F: -132, 0x8F: 16764, 0xF0: 120, 0x70: -120,
	}
	for b, want := range ulaw {
		var got [1]int16
		ULawDecode(got[:], []byte{b})
		if got[0] != want {
			t.Errorf("mu-law 0x%02X: got %d, want %d", b, got[0], want)
		}
	}
	// 0x2A carries sign bit 0 and is therefore negative (even bits inverted: 0x2A^0x55 = 0x7F);
	// its positive twin is 0xAA.
	alaw := map[byte]int16{
		0xD5: 8, 0x55: -8, 0xAA: 32256, 0x2A: -32256, 0xD4: 24, 0xC5: 264, 0xF5: 528, 0xE5: 1056,
	}
	for b, want := range alaw {
		var got [1]int16
		ALawDecode(got[:], []byte{b})
		if got[0] != want {
			t.Errorf("A-law 0x%02X: got %d, want %d", b, got[0], want)
		}
	}
}

func TestG711EncodeZero(t *testing.T) {
	var u, a [1]byte
	ULawEncode(u[:], []int16{0})
	ALawEncode(a[:], []int16{0})
	if u[0] != 0xFF || a[0] != 0xD5 {
		t.Fatalf("encode(0): mu-law 0x%02X (want 0xFF), A-law 0x%02X (want 0xD5)", u[0], a[0])
	}
}

// ulawStep and alawStep are the quantisation step of the segment a decoded value lies in.
func ulawStep(v int16) int {
	a := int(v)
	if a < 0 {
		a = -a
	}
	return 8 << segment((a+ulawBias)>>2, &ulawSegEnd)
}

func alawStep(v int16) int {
	a := int(v)
	if a < 0 {
		a = -a
	}
	seg := segment(a>>3, &alawSegEnd)
	if seg == 0 {
		return 16
	}
	return 16 << (seg - 1)
}

func TestG711RoundTripAllSamples(t *testing.T) {
	src := make([]int16, 1<<16)
	for i := range src {
		src[i] = int16(i - 32768)
	}
	enc := make([]byte, len(src))
	dec := make([]int16, len(src))
	for _, law := range []struct {
		name   string
		enc    func([]byte, []int16)
		dec    func([]int16, []byte)
		step   func(int16) int
		maxOut int
	}{
		{"mu-law", ULawEncode, ULawDecode, ulawStep, 32124},
		{"A-law", ALawEncode, ALawDecode, alawStep, 32256},
	} {
		law.enc(enc, src)
		law.dec(dec, enc)
		prev := int16(-32768)
		for i, x := range src {
			d := dec[i]
			if d < prev {
				t.Fatalf("%s: not monotonic at %d: %d after %d", law.name, x, d, prev)
			}
			prev = d
			diff := int(x) - int(d)
			if diff < 0 {
				diff = -diff
			}
			limit := law.step(d)
			if ax := max(int(x), -int(x)); ax > law.maxOut {
				limit = max(limit, ax-law.maxOut) // clipping beyond the largest code
			}
			if diff > limit {
				t.Fatalf("%s: %d decodes to %d, error %d > step %d", law.name, x, d, diff, limit)
			}
		}
	}
}

func TestG711CodeRoundTrip(t *testing.T) {
	codes := make([]byte, 256)
	for i := range codes {
		codes[i] = byte(i)
	}
	pcm := make([]int16, 256)
	back := make([]byte, 256)
	ULawDecode(pcm, codes)
	ULawEncode(back, pcm)
	for i, b := range back {
		want := byte(i)
		if want == 0x7F { // negative zero has no linear twin
			want = 0xFF
		}
		if b != want {
			t.Errorf("mu-law 0x%02X -> %d -> 0x%02X", i, pcm[i], b)
		}
	}
	ALawDecode(pcm, codes)
	ALawEncode(back, pcm)
	for i, b := range back {
		if b != byte(i) {
			t.Errorf("A-law 0x%02X -> %d -> 0x%02X", i, pcm[i], b)
		}
	}
}

func TestG711Transcode(t *testing.T) {
	codes := make([]byte, 256)
	for i := range codes {
		codes[i] = byte(i)
	}
	a := make([]byte, 256)
	u := make([]byte, 256)
	ULawToALaw(a, codes)
	var pu, pa [1]int16
	for i := range codes {
		ULawDecode(pu[:], codes[i:i+1])
		ALawDecode(pa[:], a[i:i+1])
		diff := int(pu[0]) - int(pa[0])
		if diff < 0 {
			diff = -diff
		}
		if diff > alawStep(pa[0]) && !(pu[0] > 32256 || pu[0] < -32256) {
			t.Errorf("mu 0x%02X (%d) -> A 0x%02X (%d)", i, pu[0], a[i], pa[0])
		}
	}
	ALawToULaw(u, codes)
	for i := range codes {
		ALawDecode(pa[:], codes[i:i+1])
		ULawDecode(pu[:], u[i:i+1])
		diff := int(pu[0]) - int(pa[0])
		if diff < 0 {
			diff = -diff
		}
		if diff > ulawStep(pu[0]) && !(pa[0] > 32124 || pa[0] < -32124) {
			t.Errorf("A 0x%02X (%d) -> mu 0x%02X (%d)", i, pa[0], u[i], pu[0])
		}
	}
	// In place must work: the engine rewrites a packet payload it already owns.
	buf := append([]byte(nil), codes...)
	ULawToALaw(buf, buf)
	for i := range buf {
		if buf[i] != a[i] {
			t.Fatalf("in-place transcode differs at %d", i)
		}
	}
}

func TestG711ShortBuffers(t *testing.T) {
	dst := make([]byte, 2)
	ULawEncode(dst, []int16{0, 0, 0, 0}) // must not panic, writes 2
	pcm := make([]int16, 4)
	ALawDecode(pcm, []byte{0xD5})
	if pcm[0] != 8 || pcm[1] != 0 {
		t.Fatalf("partial decode wrote %v", pcm)
	}
}

func TestG711NoAlloc(t *testing.T) {
	src := make([]int16, 160)
	enc := make([]byte, 160)
	n := testing.AllocsPerRun(100, func() {
		ULawEncode(enc, src)
		ULawDecode(src, enc)
		ALawEncode(enc, src)
		ALawDecode(src, enc)
		ULawToALaw(enc, enc)
	})
	if n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}

func benchPCM() []int16 {
	s := make([]int16, 160) // one 20 ms packet
	for i := range s {
		s[i] = int16((i * 7919) % 65536)
	}
	return s
}

func BenchmarkULawEncode160(b *testing.B) {
	src, dst := benchPCM(), make([]byte, 160)
	b.SetBytes(160)
	for b.Loop() {
		ULawEncode(dst, src)
	}
}

func BenchmarkULawDecode160(b *testing.B) {
	src, dst := make([]byte, 160), make([]int16, 160)
	ULawEncode(src, benchPCM())
	b.SetBytes(160)
	for b.Loop() {
		ULawDecode(dst, src)
	}
}

func BenchmarkALawEncode160(b *testing.B) {
	src, dst := benchPCM(), make([]byte, 160)
	b.SetBytes(160)
	for b.Loop() {
		ALawEncode(dst, src)
	}
}

func BenchmarkALawDecode160(b *testing.B) {
	src, dst := make([]byte, 160), make([]int16, 160)
	ALawEncode(src, benchPCM())
	b.SetBytes(160)
	for b.Loop() {
		ALawDecode(dst, src)
	}
}

func BenchmarkULawToALaw160(b *testing.B) {
	buf := make([]byte, 160)
	b.SetBytes(160)
	for b.Loop() {
		ULawToALaw(buf, buf)
	}
}
