package models

import (
	"strconv"
	"strings"
	"time"
)

// RecName is a recording's file name taken apart:
// rec_<yyyymmdd>_<hhmmss>_<subscriberId>_<startNumber>_<a>_<b>_<c>[_<n>].wav
//
// Two shapes occur and both parse:
//   - the engine's: five fields after the time (sub, start, a, b, c); a withheld caller is an
//     empty a, as ARCHITECTURE.md says ("rec_..._337826_4971121843140__4971..._4915...").
//   - the product document's example, six fields with an empty one between a and b
//     ("..._49711218431440__49711218431431_4915258878874"): its legend reads a call from
//     49711218431440 (a) to 49711218431431 (b) to 4915258878874 (c), so the empty field is an
//     extra separator, not a missing number. Gap records that it was there. When that shape has
//     a withheld caller too, a is empty as well.
//
// A collision suffix _2, _3, ... (the recorder's Unique naming) is Seq. Parsing is liberal: the
// numbers are kept as written (any characters but "_"), the extension may be any case.
type RecName struct {
	At           time.Time // wall clock of the call's arrival, in the location given to ParseRecName
	SubscriberID string
	StartNumber  string
	A, B, C      string
	Withheld     bool // a is empty: the caller withheld the number
	Gap          bool // the document's extra empty field between a and b
	Seq          int  // collision suffix; 0 when none
}

// ParseRecName parses a recording's base name; ok is false for names of another form (they are
// still listed, only without parts). loc is the customer's time zone (nil: UTC).
func ParseRecName(name string, loc *time.Location) (RecName, bool) {
	if loc == nil {
		loc = time.UTC
	}
	if len(name) < 4 || !strings.EqualFold(name[len(name)-4:], ".wav") {
		return RecName{}, false
	}
	// The File Browser parses every listed name: fields are cut into an array, not a new slice.
	var fields [10]string // rec, date, time, sub, start, and at most five of a, gap, b, c, seq
	n := 0
	for rest, more := name[:len(name)-4], true; more; n++ {
		if n == len(fields) {
			return RecName{}, false
		}
		fields[n], rest, more = strings.Cut(rest, "_")
	}
	f := fields[:n]
	if len(f) < 7 || f[0] != "rec" || len(f[1]) != 8 || len(f[2]) != 6 {
		return RecName{}, false
	}
	at, ok := parseStamp(f[1]+f[2], loc)
	if !ok {
		return RecName{}, false
	}
	r := RecName{At: at, SubscriberID: f[3], StartNumber: f[4]}
	if r.SubscriberID == "" || r.StartNumber == "" {
		return RecName{}, false
	}
	rest := f[5:] // a, b, c with an optional gap after a and an optional sequence number
	if n := len(rest); n == 4 || n == 5 {
		if seq, ok := seqNumber(rest[n-1]); ok && (n == 5 || rest[1] != "") {
			r.Seq, rest = seq, rest[:n-1]
		}
	}
	if len(rest) == 4 && rest[1] == "" {
		r.Gap, rest = true, []string{rest[0], rest[2], rest[3]}
	}
	if len(rest) != 3 || rest[1] == "" || rest[2] == "" {
		return RecName{}, false
	}
	r.A, r.B, r.C = rest[0], rest[1], rest[2]
	r.Withheld = r.A == ""
	return r, true
}

// parseStamp reads yyyymmddhhmmss as time.ParseInLocation("20060102150405", s, loc) does (the
// same range checks; TestParseStamp compares the two), without its layout interpretation.
func parseStamp(s string, loc *time.Location) (time.Time, bool) {
	if len(s) != 14 {
		return time.Time{}, false
	}
	var v [14]int
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
		v[i] = int(s[i] - '0')
	}
	num := func(i, n int) int {
		x := 0
		for _, d := range v[i : i+n] {
			x = x*10 + d
		}
		return x
	}
	year, month, day := num(0, 4), num(4, 2), num(6, 2)
	hour, min, sec := num(8, 2), num(10, 2), num(12, 2)
	if month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, false
	}
	if day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, 0, loc), true
}

// seqNumber recognises the recorder's collision suffix: a small number from 2 on.
func seqNumber(s string) (int, bool) {
	if len(s) == 0 || len(s) > 4 || s[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 2
}
