package audio

import (
	"os"
	"testing"
)

// TestConvertFileFromEnv converts CALLREC_CONVERT_IN to CALLREC_CONVERT_OUT when both are set. It
// lets scripts/bench-convert.sh time the converter from a compiled test binary while the
// `callrec convert` subcommand is not wired yet.
func TestConvertFileFromEnv(t *testing.T) {
	in, out := os.Getenv("CALLREC_CONVERT_IN"), os.Getenv("CALLREC_CONVERT_OUT")
	if in == "" || out == "" {
		t.Skip("CALLREC_CONVERT_IN/OUT not set")
	}
	f, err := ConvertFile(in, out, ConvertOptions{MaxDuration: 24 * 60 * 60e9})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("converted %+v", f)
}
