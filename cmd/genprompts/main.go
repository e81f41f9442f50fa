// Command genprompts renders the default announcements (media/prompts/texts) with espeak-ng into
// media/prompts/wav, in the announcement format. Run it from the module root after changing a
// text: go run ./cmd/genprompts
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"callrec/calls"
	"callrec/media/audio"
	"callrec/media/prompts"
)

func main() {
	dir := flag.String("out", filepath.Join("media", "prompts", "wav"), "folder for the WAV files")
	flag.Parse()
	if err := run(context.Background(), *dir); err != nil {
		fmt.Fprintln(os.Stderr, "genprompts:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range calls.Slots {
		slot := string(s)
		for _, lang := range prompts.Langs {
			text := prompts.Speakable(prompts.Text(slot, lang), lang)
			path := filepath.Join(dir, slot+"."+lang+".wav")
			if err := write(ctx, path, text, lang); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			fmt.Printf("%s: %q\n", path, text)
		}
	}
	return nil
}

// write renders into a temporary file and renames it, so a failed run leaves the old file.
func write(ctx context.Context, path, text, lang string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".genprompts-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := audio.Speak(ctx, text, lang, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
