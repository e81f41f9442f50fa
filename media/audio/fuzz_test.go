package audio

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

func fuzzSeeds(f *testing.F) {
	f.Add(wavBytes(wavePCM, 0, 16, 16000, tone(64, 16000, 1, 1000, 0.5)))
	f.Add(wavBytes(wavePCM, 0, 8, 8000, tone(33, 8000, 2, 1000, 0.5)))
	f.Add(wavBytes(wavePCM, 0, 24, 44100, tone(40, 44100, 1, 1000, 0.5)))
	f.Add(wavBytes(waveFloat, 0, 64, 48000, tone(20, 48000, 1, 1000, 0.5)))
	f.Add(wavBytes(waveULaw, 0, 8, 8000, tone(50, 8000, 1, 1000, 0.5)))
	f.Add(wavBytes(waveExtensible, waveFloat, 32, 22050, tone(10, 22050, 3, 1000, 0.5)))
	f.Add(riff(auto(fmtBody(1, 1, 16000, 16)), chunk{"data", 0xFFFFFFF0, make([]byte, 26)}))
}

// typed checks that a failure is a classified *Error: bytes.Reader never fails on its own, so
// anything else is a decoder error we forgot to classify.
func typed(t *testing.T, what string, err error) {
	var e *Error
	if err != nil && !errors.As(err, &e) {
		t.Fatalf("%s: unclassified error %T %v", what, err, err)
	}
}

func FuzzWAVReader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := parseWAV(bytes.NewReader(b))
		typed(t, "parseWAV", err)
		if err != nil {
			return
		}
		if w.f.Frames*int64(w.align) > int64(len(b)) {
			t.Fatalf("claims %d frames of %d bytes in a %d-byte file", w.f.Frames, w.align, len(b))
		}
		buf := make([]float32, 97)
		var n int64
		for {
			k, err := w.Read(buf)
			n += int64(k)
			if err == io.EOF {
				break
			}
			typed(t, "Read", err)
			if err != nil {
				return
			}
		}
		if n != w.f.Frames {
			t.Fatalf("read %d frames, header said %d", n, w.f.Frames)
		}
	})
}

func FuzzConvert(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := Probe(bytes.NewReader(b))
		typed(t, "Probe", err)
		var out writeSeekBuffer
		_, err = Convert(bytes.NewReader(b), &out, ConvertOptions{MaxDuration: 30 * time.Second})
		typed(t, "Convert", err)
		if err != nil {
			return
		}
		g, err := Probe(bytes.NewReader(out.Bytes()))
		if err != nil || !IsTarget(g) {
			t.Fatalf("output is not the target format: %+v %v", g, err)
		}
	})
}
