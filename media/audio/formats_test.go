package audio

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"callrec/internal/testtool"
)

// Every WAV variant must decode to the same tone: a wrong decoder shows up as a level or
// distortion error, not just as a failure.
func TestWAVVariants(t *testing.T) {
	const rate = 16000
	src := tone(rate, rate, 1, 1000, 0.5)
	stereo := tone(rate, rate, 2, 1000, 0.5)
	six := tone(rate, rate, 6, 1000, 0.5)
	cases := []struct {
		name      string
		tag, sub  uint16
		bits      int
		frames    [][]float64
		codec     string
		maxTHDN   float64
		channels  int
		container int
	}{
		{"u8", wavePCM, 0, 8, src, "pcm", -35, 1, 0},
		{"s16", wavePCM, 0, 16, src, "pcm", -70, 1, 0},
		{"s24", wavePCM, 0, 24, src, "pcm", -70, 1, 0},
		{"s32", wavePCM, 0, 32, src, "pcm", -70, 1, 0},
		{"f32", waveFloat, 0, 32, src, "float", -70, 1, 0},
		{"f64", waveFloat, 0, 64, src, "float", -70, 1, 0},
		{"ulaw", waveULaw, 0, 8, src, "ulaw", -30, 1, 0},
		{"alaw", waveALaw, 0, 8, src, "alaw", -30, 1, 0},
		{"extensible s24 stereo", waveExtensible, wavePCM, 24, stereo, "pcm", -70, 2, 0},
		{"extensible f32 5.1", waveExtensible, waveFloat, 32, six, "float", -70, 6, 0},
	}
	for _, c := range cases {
		in := wavBytes(c.tag, c.sub, c.bits, rate, c.frames)
		f, err := Probe(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if f.Codec != c.codec || f.Channels != c.channels || f.Rate != rate || f.Frames != int64(len(c.frames)) {
			t.Errorf("%s: probed %+v", c.name, f)
		}
		// LoadPCM keeps the level: 0.5 of full scale.
		pcm, err := LoadPCM(bytes.NewReader(in), rate)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		y := make([]float32, len(pcm))
		for i, s := range pcm {
			y[i] = float32(s) / 32768
		}
		if a := amplitude(y, rate, 1000); math.Abs(db(a/0.5)) > 0.2 {
			t.Errorf("%s: level %.2f dB off", c.name, db(a/0.5))
		}
		if v := thdN(y, rate, 1000); v > c.maxTHDN {
			t.Errorf("%s: THD+N %.1f dB, want below %.0f", c.name, v, c.maxTHDN)
		}
	}
}

// Compressed formats, made by sox, decode with the right length and level.
func TestCompressedFormats(t *testing.T) {
	sox := testtool.Need(t, "sox", "sox")
	dir := t.TempDir()
	src := filepath.Join(dir, "src.wav")
	if err := os.WriteFile(src, wavBytes(wavePCM, 0, 16, 44100, tone(44100, 44100, 2, 1000, 0.5)), 0o644); err != nil {
		t.Fatal(err)
	}
	help, _ := exec.Command(sox, "-h").CombinedOutput()
	for _, c := range []struct {
		ext       string
		slack     int64 // extra output samples allowed
		container string
		pkg       string // Debian package with sox's handler for the format
	}{
		{"flac", 0, "flac", "libsox-fmt-base"},
		{"ogg", 0, "ogg", "libsox-fmt-base"},
		// sox writes no LAME tag, so the encoder's end padding (under two frames) stays.
		{"mp3", 2 * 1152 * TargetRate / 44100, "mp3", "libsox-fmt-mp3"},
	} {
		if !strings.Contains(string(help), " "+c.ext+" ") {
			msg := "sox cannot write " + c.ext + ": install the Debian package " + c.pkg
			if testtool.E2E() {
				t.Error(msg)
			} else {
				t.Log(msg)
			}
			continue
		}
		p := filepath.Join(dir, "x."+c.ext)
		if out, err := exec.Command(sox, src, p).CombinedOutput(); err != nil {
			t.Fatalf("sox %s: %v %s", c.ext, err, out)
		}
		out := filepath.Join(dir, c.ext+".wav")
		f, err := ConvertFile(p, out, ConvertOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.ext, err)
		}
		if f.Container != c.container || f.Rate != 44100 || f.Channels != 2 {
			t.Errorf("%s: format %+v", c.ext, f)
		}
		b, _ := os.ReadFile(out)
		g, err := Probe(bytes.NewReader(b))
		if err != nil || !IsTarget(g) {
			t.Fatalf("%s: output %+v %v", c.ext, g, err)
		}
		if g.Frames < TargetRate-2 || g.Frames > TargetRate+2+c.slack {
			t.Errorf("%s: %d output samples, want %d", c.ext, g.Frames, TargetRate)
		}
		// The tone starts at once: no encoder delay left at the front.
		var first int
		for i, v := range b[44:] {
			if v > 128+40 || v < 128-40 {
				first = i
				break
			}
		}
		if first > 16 {
			t.Errorf("%s: tone starts at output sample %d, want within the first 16", c.ext, first)
		}
	}
}
