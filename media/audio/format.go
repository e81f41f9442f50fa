package audio

import "time"

// Limits of what we accept; the rate range covers telephony to studio masters.
const (
	MinRate     = 8000
	MaxRate     = 192000
	MaxChannels = 64
)

// Target is what announcements are stored as: WAV, PCM 8-bit unsigned, 16 kHz, mono.
const (
	TargetRate = 16000
	TargetBits = 8
)

// Format describes an audio stream. Container is "wav", "mp3", "ogg" or "flac"; Codec is
// "pcm", "float", "ulaw", "alaw", "mp3", "vorbis" or "flac". Frames is the number of samples
// per channel, or -1 when the container does not tell without decoding.
type Format struct {
	Container string
	Codec     string
	Bits      int // bits per sample as stored (0 for lossy codecs)
	Rate      int
	Channels  int
	Frames    int64
}

// Duration is the length implied by Frames and Rate (0 when unknown).
func (f Format) Duration() time.Duration {
	if f.Rate <= 0 || f.Frames <= 0 {
		return 0
	}
	sec := f.Frames / int64(f.Rate)
	rem := f.Frames % int64(f.Rate)
	return time.Duration(sec)*time.Second + time.Duration(rem)*time.Second/time.Duration(f.Rate)
}

// IsTarget reports whether f is already the announcement format (WAV PCM u8 16 kHz mono), so an
// upload can be stored as is.
func IsTarget(f Format) bool {
	return f.Container == "wav" && f.Codec == "pcm" && f.Bits == TargetBits &&
		f.Rate == TargetRate && f.Channels == 1
}

func checkShape(rate, channels int) error {
	if channels < 1 || channels > MaxChannels {
		return errorf(CodeBadChannels, "%d channels (allowed 1 to %d)", channels, MaxChannels)
	}
	if rate < MinRate || rate > MaxRate {
		return errorf(CodeBadRate, "%d Hz (allowed %d to %d)", rate, MinRate, MaxRate)
	}
	return nil
}
