package audio

import (
	"bytes"
	"context"
	"testing"

	"callrec/internal/testtool"
)

func TestSpeak(t *testing.T) {
	testtool.Need(t, "espeak-ng", "espeak-ng")
	var out writeSeekBuffer
	if err := Speak(context.Background(), "Guten Tag, dies ist ein Test.", "de", &out); err != nil {
		t.Fatal(err)
	}
	f, err := Probe(bytes.NewReader(out.Bytes()))
	if err != nil || !IsTarget(f) {
		t.Fatalf("%+v %v", f, err)
	}
	if f.Duration().Seconds() < 1 {
		t.Fatalf("only %v of speech", f.Duration())
	}
	// A text that looks like an option is spoken, not obeyed.
	if err := Speak(context.Background(), "--help -w /tmp/x", "en", &writeSeekBuffer{}); err != nil {
		t.Fatal(err)
	}
}

func TestSpeakWithoutEngine(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if err := Speak(context.Background(), "hallo", "de", &writeSeekBuffer{}); err != ErrNoSpeechEngine {
		t.Fatalf("err %v, want ErrNoSpeechEngine", err)
	}
}
