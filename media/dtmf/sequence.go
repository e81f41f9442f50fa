package dtmf

import "time"

// DefaultWindow is how long a Sequence waits for its remaining digits after the first.
const DefaultWindow = 3 * time.Second

// Sequence recognises a fixed run of digits pressed within a time window, such as "#1"
// with which the callee interrupts a recording. Any other digit, or the window running out,
// starts over; the first digit of Digits pressed again restarts the window. The window is
// measured from the first digit to the last. The zero value never matches.
//
// Times come from the caller (packet arrival) so the matcher is testable without sleeping.
type Sequence struct {
	Digits string
	Window time.Duration // 0 means DefaultWindow

	pos   int
	start time.Time
}

// NewSequence returns a matcher for digits within window.
func NewSequence(digits string, window time.Duration) *Sequence {
	return &Sequence{Digits: digits, Window: window}
}

// Feed takes one reported digit and returns true when it completes the sequence.
func (s *Sequence) Feed(digit byte, at time.Time) bool {
	if len(s.Digits) == 0 {
		return false
	}
	w := s.Window
	if w <= 0 {
		w = DefaultWindow
	}
	if s.pos > 0 {
		if d := at.Sub(s.start); d > w || d < 0 {
			s.pos = 0
		}
	}
	if digit != s.Digits[s.pos] {
		s.pos = 0
		if digit != s.Digits[0] {
			return false
		}
	}
	if s.pos == 0 {
		s.start = at
	}
	s.pos++
	if s.pos == len(s.Digits) {
		s.pos = 0
		return true
	}
	return false
}

// Reset forgets digits fed so far.
func (s *Sequence) Reset() { s.pos = 0 }
