package audio

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden_out.wav")

// The dither generator has a fixed seed, so a conversion is reproducible to the byte.
func TestGolden(t *testing.T) {
	in := filepath.Join("testdata", "golden_in.wav")
	want := filepath.Join("testdata", "golden_out.wav")
	if *update {
		// A 0.1 s 22.05 kHz stereo chirp: odd rate, two channels, every stage of the converter.
		const rate, n = 22050, 2205
		fr := make([][]float64, n)
		for i := range fr {
			x := float64(i) / rate
			fr[i] = []float64{0.6 * math.Sin(2*math.Pi*(200*x+20000*x*x)), 0.3 * math.Sin(2*math.Pi*440*x)}
		}
		if err := os.WriteFile(in, wavBytes(wavePCM, 0, 16, rate, fr), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ConvertFile(in, want, ConvertOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out.wav")
	f, err := ConvertFile(in, out, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Rate != 22050 || f.Channels != 2 || f.Frames != 2205 || f.Bits != 16 {
		t.Errorf("input format %+v", f)
	}
	got, _ := os.ReadFile(out)
	exp, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(exp) || len(got) != 44+1600 {
		t.Fatalf("output %d bytes, golden %d, want %d", len(got), len(exp), 44+1600)
	}
	if bytes.Equal(got, exp) {
		return
	}
	// Architectures that fuse multiply-add (arm64) may round the odd sample the other way.
	if runtime.GOARCH == "amd64" {
		t.Fatal("output differs from testdata/golden_out.wav (run with -update after a deliberate change)")
	}
	for i := range got {
		if d := int(got[i]) - int(exp[i]); d > 1 || d < -1 {
			t.Fatalf("byte %d: %d, golden %d", i, got[i], exp[i])
		}
	}
}

// An odd number of samples needs a pad byte after the data chunk, counted in the RIFF size.
func TestOddLengthPad(t *testing.T) {
	var out writeSeekBuffer
	if _, err := Convert(bytes.NewReader(wavBytes(wavePCM, 0, 16, 16000, tone(1001, 16000, 1, 500, 0.5))), &out, ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	b := out.Bytes()
	if len(b) != 44+1001+1 || b[len(b)-1] != 0 {
		t.Fatalf("%d bytes, want %d ending in a zero pad byte", len(b), 44+1002)
	}
	if riff, data := le32(b[4:]), le32(b[40:]); riff != uint32(len(b)-8) || data != 1001 {
		t.Fatalf("RIFF size %d, data size %d; file %d bytes", riff, data, len(b))
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
