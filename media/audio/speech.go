package audio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoSpeechEngine means espeak-ng is not installed, so announcements cannot be generated from
// text on this machine (uploading a recording still works).
var ErrNoSpeechEngine = errors.New("audio: the speech engine espeak-ng is not installed")

// MaxSpeechText bounds what Speak renders: an announcement is a sentence or three.
const MaxSpeechText = 2000

// speechTimeout bounds one espeak-ng run; it renders far faster than real time.
const speechTimeout = 30 * time.Second

// Speak renders text as speech with espeak-ng (voice "de" for lang "de", English otherwise, at a
// calm rate) and writes it to w in the announcement format, like Convert. The text reaches
// espeak-ng on stdin, never through a shell or the argument list, so no text can become an
// option. Symbols should already be words (prompts.Speakable).
func Speak(ctx context.Context, text, lang string, w io.WriteSeeker) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return errors.New("audio: nothing to speak")
	}
	if len(text) > MaxSpeechText {
		return fmt.Errorf("audio: text of %d bytes is too long to speak (limit %d)", len(text), MaxSpeechText)
	}
	bin, err := exec.LookPath("espeak-ng")
	if err != nil {
		return ErrNoSpeechEngine
	}
	voice := "en"
	if lang == "de" {
		voice = "de"
	}
	dir, err := os.MkdirTemp("", "callrec-speak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	wav := filepath.Join(dir, "speech.wav")
	ctx, cancel := context.WithTimeout(ctx, speechTimeout)
	defer cancel()
	// -b 1: the text is UTF-8; -s 145 words per minute is slower than espeak's 175, easier to
	// follow on a phone line.
	cmd := exec.CommandContext(ctx, bin, "-v", voice, "-s", "145", "-b", "1", "-w", wav, "--stdin")
	cmd.Stdin = strings.NewReader(text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("audio: espeak-ng: %v %s", err, strings.TrimSpace(stderr.String()))
	}
	f, err := os.Open(wav)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = Convert(f, w, ConvertOptions{})
	return err
}
