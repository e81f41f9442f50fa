// Package dtmf recognises telephone keypad digits in the three ways a SIP leg can carry
// them: RFC 4733 telephone-event RTP packets, in-band tones in the audio (Goertzel), and
// SIP INFO bodies. It also matches short digit sequences such as "#1".
//
// Digits are the bytes '0'-'9', '*', '#' and 'A'-'D'. Every detector reports each key
// press exactly once, at the earliest moment it is sure, so that the engine can react to
// '*' while an announcement is still playing.
//
// Detectors are not safe for concurrent use: a call feeds each one from the goroutine that
// reads that leg's packets.
package dtmf

// digits maps RFC 4733 event codes 0-15 (also used by SIP INFO "Signal=10") to keys.
const digits = "0123456789*#ABCD"

// Digit returns the key for an RFC 4733 event code; codes above 15 (flash, tones) are not
// keys and return false.
func Digit(code uint8) (byte, bool) {
	if int(code) < len(digits) {
		return digits[code], true
	}
	return 0, false
}

// Valid reports whether d is one of the sixteen DTMF keys.
func Valid(d byte) bool {
	switch {
	case d >= '0' && d <= '9', d == '*', d == '#', d >= 'A' && d <= 'D':
		return true
	}
	return false
}
