package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"callrec/media/audio"
)

// convert handles "callrec convert IN OUT": any supported audio to WAV 8-bit 16 kHz mono.
func convert(args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return errors.New("usage: callrec convert IN OUT")
	}
	f, err := audio.ConvertFile(args[0], args[1], audio.ConvertOptions{})
	if err != nil {
		return err
	}
	bits := ""
	if f.Bits > 0 { // lossy codecs have no sample width
		bits = fmt.Sprintf(" %d-bit", f.Bits)
	}
	fmt.Fprintf(stdout, "%s: %s%s %d Hz %d ch, %s -> %s: WAV 8-bit 16000 Hz mono\n",
		args[0], f.Codec, bits, f.Rate, f.Channels, f.Duration().Round(time.Millisecond), args[1])
	return nil
}
