package audio

import (
	"bytes"
	"math"
	"testing"
)

func TestLoadPCMFromU8At16k(t *testing.T) {
	in := wavBytes(wavePCM, 0, 8, 16000, tone(16000, 16000, 1, 1000, 0.5))
	pcm, err := LoadPCM(bytes.NewReader(in), 8000)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) < 7998 || len(pcm) > 8002 {
		t.Fatalf("len %d, want 8000", len(pcm))
	}
	// The 1 kHz tone survives at about half scale.
	var peak int
	for _, s := range pcm[100 : len(pcm)-100] {
		peak = max(peak, int(math.Abs(float64(s))))
	}
	if peak < 15500 || peak > 17500 {
		t.Fatalf("peak %d, want about 16384", peak)
	}
}
