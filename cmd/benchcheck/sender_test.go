package main

import (
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeStereo writes a 16-bit 8 kHz stereo WAV whose channels are loud except where silent
// says (per channel, [from, to) in frames).
func writeStereo(t *testing.T, path string, frames int, silent [2][][2]int) {
	t.Helper()
	data := make([]byte, frames*4)
	for i := 0; i < frames; i++ {
		for c := 0; c < 2; c++ {
			v := int16(3000)
			if i%2 == 1 {
				v = -3000
			}
			for _, s := range silent[c] {
				if i >= s[0] && i < s[1] {
					v = 0
				}
			}
			binary.LittleEndian.PutUint16(data[(i*2+c)*2:], uint16(v))
		}
	}
	h := make([]byte, 44)
	copy(h, "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 2)
	binary.LittleEndian.PutUint32(h[24:], 8000)
	binary.LittleEndian.PutUint32(h[28:], 8000*4)
	binary.LittleEndian.PutUint16(h[32:], 4)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	if err := os.WriteFile(path, append(h, data...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadEngineLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serve.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(f, nil))
	log.Info("call ended", "call", "x", "outcome", "completed", "recording", "call_recording/1/2/rec_a.wav",
		"first_ms", "120/-1", "sent_until_ms", "9980/0", "skipped_ms", "0/1210", "arrived_late_ms", "40/0",
		"late_ms", "0/0", "overrun_ms", "0/20")
	log.Info("call ended", "call", "y", "outcome", "refused") // no recording: ignored
	log.Info("something else", "recording", "call_recording/other.wav")
	f.Close()
	got, err := readEngineLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("figures for %d recordings, want 1: %v", len(got), got)
	}
	ms := time.Millisecond
	want := senderFigures{first: [2]time.Duration{120 * ms, -1}, sentUntil: [2]time.Duration{9980 * ms, 0},
		skipped: [2]time.Duration{0, 1210 * ms}, arrivedLate: [2]time.Duration{40 * ms, 0},
		overrun: [2]time.Duration{0, 20 * ms}}
	if g := got["call_recording/1/2/rec_a.wav"]; g != want {
		t.Errorf("figures %+v, want %+v", g, want)
	}
}

// A file 10 s long: the caller's sender started 300 ms late and skipped 1 s of timestamps
// (its silences are its own), the callee's channel has a 500 ms hole nothing accounts for
// (the engine's) and stops 400 ms before the end, where its sender stopped.
func TestSilencesAttributed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rec.wav")
	const frames = 80000
	writeStereo(t, path, frames, [2][][2]int{
		{{0, 2400}, {40000, 48000}},
		{{20000, 24000}, {76800, frames}},
	})
	ms := time.Millisecond
	fig := &senderFigures{first: [2]time.Duration{300 * ms, 5 * ms}, sentUntil: [2]time.Duration{10 * time.Second, 9600 * ms},
		skipped: [2]time.Duration{1000 * ms, 0}}

	var r result
	r.checkFile(path, time.Unix(0, 0), 10*time.Second, [2]bool{}, fig)
	if r.gaps != 1 || r.gapMid != 1 || r.gapLead+r.gapTrail != 0 {
		t.Errorf("gaps %d (start/middle/end %d/%d/%d), want the callee's one in the middle", r.gaps, r.gapLead, r.gapMid, r.gapTrail)
	}
	if r.senderLead != 1 || r.senderMid != 1 || r.senderTrail != 1 || r.senderFiles != 1 {
		t.Errorf("sender's silences start/middle/end %d/%d/%d in %d files, want 1/1/1 in 1", r.senderLead, r.senderMid, r.senderTrail, r.senderFiles)
	}
	if r.misaligned != 0 {
		t.Errorf("misaligned %d: a late start and an early stop of the senders are theirs", r.misaligned)
	}

	// Without the figures every silence is a gap, and the late start misaligns the channels.
	var bare result
	bare.checkFile(path, time.Unix(0, 0), 10*time.Second, [2]bool{}, nil)
	if bare.gaps != 1 || bare.gapLead+bare.gapMid+bare.gapTrail != 4 || bare.misaligned != 1 {
		t.Errorf("without figures: gaps %d, runs %d/%d/%d, misaligned %d; want 1 file, 4 runs, misaligned",
			bare.gaps, bare.gapLead, bare.gapMid, bare.gapTrail, bare.misaligned)
	}

	// A skip smaller than the silence does not excuse it.
	small := *fig
	small.skipped[0] = 200 * ms
	var r2 result
	r2.checkFile(path, time.Unix(0, 0), 10*time.Second, [2]bool{}, &small)
	if r2.gapMid != 2 {
		t.Errorf("middle gaps %d with a 200 ms skip against a 1 s silence, want 2", r2.gapMid)
	}
}
