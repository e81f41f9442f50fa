package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// riff assembles a WAV from raw chunks, each given as id and body; size overrides the length
// field when not negative.
type chunk struct {
	id   string
	size int64
	body []byte
}

func riff(chunks ...chunk) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF\xff\xff\xff\x7fWAVE")
	for _, c := range chunks {
		b.WriteString(c.id)
		n := c.size
		if n < 0 {
			n = int64(len(c.body))
		}
		binary.Write(&b, binary.LittleEndian, uint32(n))
		b.Write(c.body)
	}
	return b.Bytes()
}

func fmtBody(tag uint16, ch uint16, rate uint32, bits uint16) []byte {
	var b bytes.Buffer
	align := ch * ((bits + 7) / 8)
	for _, v := range []any{tag, ch, rate, rate * uint32(align), align, bits} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

func auto(body []byte) chunk { return chunk{"fmt ", -1, body} }

func TestHostileInputs(t *testing.T) {
	good := fmtBody(1, 1, 16000, 16)
	pcm := make([]byte, 200)
	cases := []struct {
		name string
		in   []byte
		code string
	}{
		{"empty", nil, CodeNoAudio},
		{"garbage", []byte("this is not audio at all, just text"), CodeUnsupportedFormat},
		{"riff not wave", []byte("RIFF\x04\x00\x00\x00AVI LIST"), CodeUnsupportedFormat},
		{"70 bytes claiming 4 GiB of data", riff(auto(good), chunk{"data", 0xFFFFFFF0, pcm[:26]}), CodeTruncatedFile},
		{"data longer than file", riff(auto(good), chunk{"data", 1000, pcm}), CodeTruncatedFile},
		{"fmt chunk of 4 GiB", riff(chunk{"fmt ", 0xFFFFFFF0, good}), CodeCorruptFile},
		{"LIST chunk larger than file", riff(chunk{"LIST", 1 << 30, pcm[:20]}, auto(good), chunk{"data", -1, pcm}), CodeTruncatedFile},
		{"short fmt", riff(chunk{"fmt ", -1, good[:10]}), CodeCorruptFile},
		{"no fmt", riff(chunk{"data", -1, pcm}), CodeCorruptFile},
		{"no data", riff(auto(good)), CodeCorruptFile},
		{"zero channels", riff(auto(fmtBody(1, 0, 16000, 16)), chunk{"data", -1, pcm}), CodeBadChannels},
		{"1000 channels", riff(auto(fmtBody(1, 1000, 16000, 16)), chunk{"data", -1, pcm}), CodeBadChannels},
		{"rate 0", riff(auto(fmtBody(1, 1, 0, 16)), chunk{"data", -1, pcm}), CodeBadRate},
		{"rate 10 Hz", riff(auto(fmtBody(1, 1, 10, 16)), chunk{"data", -1, pcm}), CodeBadRate},
		{"rate 10 MHz", riff(auto(fmtBody(1, 1, 10_000_000, 16)), chunk{"data", -1, pcm}), CodeBadRate},
		{"ADPCM", riff(auto(fmtBody(2, 1, 16000, 4)), chunk{"data", -1, pcm}), CodeUnsupportedFormat},
		{"zero bits", riff(auto(fmtBody(1, 1, 16000, 0)), chunk{"data", -1, pcm}), CodeCorruptFile},
		{"48-bit PCM", riff(auto(fmtBody(1, 1, 16000, 48)), chunk{"data", -1, pcm}), CodeUnsupportedFormat},
		{"empty data", riff(auto(good), chunk{"data", -1, nil}), CodeNoAudio},
		{"RF64", []byte("RF64\xff\xff\xff\xffWAVEds64"), CodeUnsupportedFormat},
		{"ID3 claiming 256 MB", []byte("ID3\x03\x00\x00\x7f\x7f\x7f\x7f\xff\xfb\x90\x00"), CodeTruncatedFile},
		{"MP3 sync without a frame", []byte("\xff\xff\xff\xff\xff\xff\xff\xff"), CodeUnsupportedFormat},
		{"fLaC alone", []byte("fLaC"), CodeTruncatedFile},
		{"OggS alone", []byte("OggS"), CodeTruncatedFile},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Probe(bytes.NewReader(c.in))
			checkCode(t, "Probe", err, c.code)
			_, err = LoadPCM(bytes.NewReader(c.in), 8000)
			checkCode(t, "LoadPCM", err, c.code)
			in := filepath.Join(dir, "in")
			if err := os.WriteFile(in, c.in, 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out.wav")
			_, err = ConvertFile(in, out, ConvertOptions{})
			checkCode(t, "ConvertFile", err, c.code)
			runtime.ReadMemStats(&after)
			if a := after.TotalAlloc - before.TotalAlloc; a > 16<<20 {
				t.Errorf("allocated %d MiB", a>>20)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("left files behind: %v", ents)
			}
		})
	}
}

func checkCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s: error %v, want code %s", what, err, code)
		return
	}
	if e.Code != code {
		t.Errorf("%s: code %s (%v), want %s", what, e.Code, err, code)
	}
}

func TestTooLong(t *testing.T) {
	in := wavBytes(wavePCM, 0, 8, 8000, tone(8000*3, 8000, 1, 440, 0.5))
	_, err := Convert(bytes.NewReader(in), &writeSeekBuffer{}, ConvertOptions{MaxDuration: 2e9})
	checkCode(t, "Convert", err, CodeTooLong)
	// A streaming header (data size 0) hides the length until the samples are read.
	binary.LittleEndian.PutUint32(in[40:], 0)
	_, err = Convert(bytes.NewReader(in), &writeSeekBuffer{}, ConvertOptions{MaxDuration: 2e9})
	checkCode(t, "Convert streaming", err, CodeTooLong)
	if _, err := Convert(bytes.NewReader(in), &writeSeekBuffer{}, ConvertOptions{MaxDuration: 4e9}); err != nil {
		t.Fatal(err)
	}
}

func TestErrorCodes(t *testing.T) {
	for _, c := range ErrorCodes {
		e := &Error{Code: c, Detail: "x"}
		if codeText[c] == "" || ErrorCode(fmt.Errorf("wrapped: %w", e)) != c {
			t.Errorf("code %s: no text or not found through wrapping", c)
		}
	}
	if ErrorCode(io.EOF) != "" || ErrorCode(nil) != "" {
		t.Error("non-audio errors must have no code")
	}
}
