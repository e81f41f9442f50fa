package sip

import (
	"strings"
)

// UnmarshalHeaderParams reads params separated by seperator from s, up to the first ending
// outside a quoted string (ending 0: to the end of s), into p. It returns the offset of ending
// in s, or len(s).
//
// Names and values are trimmed of linear white space, which RFC 3261 allows around the
// separator and the "=" (SEMI = SWS ";" SWS, EQUAL = SWS "=" SWS, 25.1; RFC 4475 3.1.1.1). A
// quoted-string value is stored as it came, quotes included; separators and "=" inside it are
// part of the value. Empty params (";;") are skipped.
func UnmarshalHeaderParams(s string, seperator rune, ending rune, p *HeaderParams) (n int, err error) {
	start, eq := 0, -1
	quoted, escaped := false, false
	add := func(end int) {
		if p == nil {
			return
		}
		if eq < 0 {
			if key := strings.TrimSpace(s[start:end]); key != "" {
				p.Add(key, "")
			}
			return
		}
		key := strings.TrimSpace(s[start:eq])
		val := strings.TrimSpace(s[eq+1 : end])
		if key != "" {
			p.Add(key, val)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quoted {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				quoted = false
			}
			continue
		}
		switch {
		case c == '"':
			quoted = true
		case ending != 0 && rune(c) == ending:
			add(i)
			return i, nil
		case rune(c) == seperator:
			add(i)
			start, eq = i+1, -1
		case c == '=' && eq < 0:
			eq = i
		}
	}
	add(len(s))
	return len(s), nil
}
