package dtmf

import (
	"bytes"
	"errors"
	"mime"
	"strings"
)

// Errors from ParseInfo.
var (
	ErrContentType = errors.New("dtmf: INFO content type is not application/dtmf-relay or application/dtmf")
	ErrNoSignal    = errors.New("dtmf: INFO body has no signal")
	ErrBadSignal   = errors.New("dtmf: INFO signal is not a DTMF key")
)

// ParseInfo returns the key carried by a SIP INFO request. It understands
//
//	application/dtmf-relay   "Signal=1\r\nDuration=160\r\n" (keys and order of lines free,
//	                          case-insensitive key, LF or CRLF)
//	application/dtmf         "5"
//
// The signal is a key ('0'-'9', '*', '#', 'A'-'D', lower case accepted) or an event code
// 0-15 as some devices send ("Signal=10" is '*', "11" is '#').
func ParseInfo(contentType string, body []byte) (byte, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	switch mt {
	case "application/dtmf-relay":
		for line := range bytes.Lines(body) {
			key, val, found := bytes.Cut(line, []byte("="))
			if !found || !strings.EqualFold(string(bytes.TrimSpace(key)), "signal") {
				continue
			}
			return parseSignal(bytes.TrimSpace(val))
		}
		return 0, ErrNoSignal
	case "application/dtmf":
		return parseSignal(bytes.TrimSpace(body))
	}
	return 0, ErrContentType
}

func parseSignal(v []byte) (byte, error) {
	switch len(v) {
	case 0:
		return 0, ErrNoSignal
	case 1:
		d := v[0]
		if d >= 'a' && d <= 'd' {
			d -= 'a' - 'A'
		}
		if Valid(d) {
			return d, nil
		}
	case 2:
		if v[0] == '1' && v[1] >= '0' && v[1] <= '5' {
			d, _ := Digit(10 + v[1] - '0')
			return d, nil
		}
	}
	return 0, ErrBadSignal
}
