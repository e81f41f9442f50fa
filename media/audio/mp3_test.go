package audio

import (
	"os"
	"testing"
)

// testdata/click_lame.mp3 is 8000 samples at 16 kHz, silent but for a click at sample 3000,
// encoded by ffmpeg/LAME with a LAME tag (encoder delay and padding). Gapless trimming must put
// the click back at 3000 and the length back at 8000.
func TestMP3GaplessTrim(t *testing.T) {
	f, err := os.Open("testdata/click_lame.mp3")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := LoadPCM(f, 16000)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) != 8000 {
		t.Errorf("%d samples, want 8000", len(pcm))
	}
	at, peak := 0, 0
	for i, s := range pcm {
		if v := abs(int(s)); v > peak {
			at, peak = i, v
		}
	}
	if at < 2999 || at > 3001 {
		t.Errorf("click at sample %d, want 3000", at)
	}
}
