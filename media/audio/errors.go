package audio

import (
	"errors"
	"fmt"
)

// Error codes are stable: the web layer keys its translations and JSON error codes on them.
const (
	CodeUnsupportedFormat = "unsupported_format" // not WAV/MP3/Ogg Vorbis/FLAC, or a variant we do not decode
	CodeCorruptFile       = "corrupt_file"       // the container or bitstream is inconsistent
	CodeTruncatedFile     = "truncated_file"     // the file ends before the data it announces
	CodeTooLong           = "too_long"           // longer than ConvertOptions.MaxDuration
	CodeBadChannels       = "bad_channels"       // zero or more than MaxChannels channels
	CodeBadRate           = "bad_rate"           // sample rate outside MinRate..MaxRate
	CodeNoAudio           = "no_audio"           // a valid file without a single sample
)

// ErrorCodes lists every Code an *Error can carry, so the web layer can prove each has a
// translation.
var ErrorCodes = []string{CodeUnsupportedFormat, CodeCorruptFile, CodeTruncatedFile, CodeTooLong,
	CodeBadChannels, CodeBadRate, CodeNoAudio}

// ErrorCode returns the Code of the *Error in err's chain, or "" when err is not about the
// audio itself (I/O errors, nil).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Error is a problem with the audio a user gave us, as opposed to an I/O error of the reader or
// writer (those are returned unwrapped so a full disk is not blamed on the user's file).
type Error struct {
	Code   string // one of the Code* constants
	Detail string // English, for logs and as the message's tail
}

var codeText = map[string]string{
	CodeUnsupportedFormat: "unsupported audio format",
	CodeCorruptFile:       "corrupt audio file",
	CodeTruncatedFile:     "truncated audio file",
	CodeTooLong:           "audio too long",
	CodeBadChannels:       "unsupported number of channels",
	CodeBadRate:           "unsupported sample rate",
	CodeNoAudio:           "file contains no audio",
}

func (e *Error) Error() string {
	msg := codeText[e.Code]
	if msg == "" {
		msg = e.Code
	}
	if e.Detail == "" {
		return "audio: " + msg
	}
	return "audio: " + msg + ": " + e.Detail
}

func errorf(code, format string, args ...any) error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}
