package dtmf

import (
	"errors"
	"testing"
)

func TestParseInfo(t *testing.T) {
	for _, c := range []struct {
		ct, body string
		want     byte
		err      error
	}{
		{"application/dtmf-relay", "Signal=1\r\nDuration=160\r\n", '1', nil},
		{"application/dtmf-relay", "Signal=*\r\nDuration=160\r\n", '*', nil},
		{"application/dtmf-relay", "Signal=#\r\nDuration=160\r\n", '#', nil},
		{"application/dtmf-relay", "Signal=10\r\nDuration=250\r\n", '*', nil},
		{"application/dtmf-relay", "Signal=11\r\nDuration=250\r\n", '#', nil},
		{"application/dtmf-relay", "Signal=12\n", 'A', nil},
		{"Application/DTMF-Relay; charset=utf-8", "Duration=100\nsignal = d\n", 'D', nil},
		{"application/dtmf-relay", "Signal=9", '9', nil},
		{"application/dtmf-relay", "Duration=160\r\n", 0, ErrNoSignal},
		{"application/dtmf-relay", "Signal=\r\n", 0, ErrNoSignal},
		{"application/dtmf-relay", "Signal=16\r\n", 0, ErrBadSignal},
		{"application/dtmf-relay", "Signal=x\r\n", 0, ErrBadSignal},
		{"application/dtmf-relay", "Signal=123\r\n", 0, ErrBadSignal},
		{"application/dtmf", "5", '5', nil},
		{"application/dtmf", " #\r\n", '#', nil},
		{"application/dtmf", "11", '#', nil},
		{"application/dtmf", "", 0, ErrNoSignal},
		{"application/sdp", "Signal=1", 0, ErrContentType},
		{"", "5", 0, ErrContentType},
	} {
		got, err := ParseInfo(c.ct, []byte(c.body))
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("ParseInfo(%q, %q) = %q, %v; want %q, %v", c.ct, c.body, got, err, c.want, c.err)
		}
	}
}
