package models

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// CountryCode is the E.164 country code a number in international form (digits, no prefix)
// begins with, "" for an empty number. Country codes are prefix-free: 1 and 7 have one digit,
// the two-digit ones are listed, every other code has three.
func CountryCode(number string) string {
	switch {
	case number == "":
		return ""
	case number[0] == '1' || number[0] == '7':
		return number[:1]
	case len(number) >= 2 && strings.Contains(twoDigitCodes, " "+number[:2]+" "):
		return number[:2]
	}
	return number[:min(3, len(number))]
}

const twoDigitCodes = " 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 " +
	"60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 "

// searchNumbers is what a typed number is searched as, in the stored form (international,
// digits only): the number's digits; and a national number (one leading 0, as people write
// their own country's numbers) also with the customer's country code instead of the 0, when
// the customer is known; "+49 (0)171..." also without that 0. "+49 171 / 23-4" and "0049 171 234"
// are in the stored form already.
func (s *Store) searchNumbers(ctx context.Context, customerID uint, typed string) []string {
	n := NormalizeNumber(typed)
	if n == "" {
		return nil
	}
	out := []string{n}
	if customerID == 0 {
		return out
	}
	cc := s.customerCountry(ctx, customerID)
	switch {
	case cc == "":
	case n[0] == '0' && len(n) > 1: // 0171...
		out = append(out, cc+n[1:])
	case strings.HasPrefix(n, cc+"0") && len(n) > len(cc)+1: // +49 (0)171...
		out = append(out, cc+n[len(cc)+1:])
	}
	return out
}

// customerCountry is the country code of a customer's numbers: that of its first pool's start
// number ("" without pools).
func (s *Store) customerCountry(ctx context.Context, customerID uint) string {
	cc, err := cached(&s.cache, cacheKey{kind: cacheCountry, id: customerID}, func() (string, error) {
		var start string
		err := s.queryRow(ctx, "SELECT start_number FROM pools WHERE customer_id = ? ORDER BY id LIMIT 1", customerID).Scan(&start)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return CountryCode(start), err
	})
	if err != nil {
		return ""
	}
	return cc
}

// MaskNumber hides the middle of a phone number the way the product document shows it
// (4915258878874 -> 4915258XXX874): about a quarter of the digits, keeping the last three and
// the prefix that tells country and network. Empty stays empty.
func MaskNumber(n string) string {
	r := []rune(n)
	l := len(r)
	if l == 0 {
		return ""
	}
	if l == 1 {
		return "X"
	}
	masked := max(1, l/4)
	tail := min(3, (l-masked)/2)
	head := l - masked - tail
	return string(r[:head]) + strings.Repeat("X", masked) + string(r[head+masked:])
}

// MaskIn is s (a recording's path or file name, an event's text) with every occurrence of
// number masked as MaskNumber does. Numbers shorter than three digits are left alone: they would
// mask unrelated digits.
func MaskIn(s, number string) string {
	if len(number) < 3 {
		return s
	}
	return strings.ReplaceAll(s, number, MaskNumber(number))
}

// NormalizeNumber keeps the digits of a number as typed ("+49 711 / 218-43" -> "4971121843"); a
// leading 00 (international prefix) goes too, as numbers are stored without it.
func NormalizeNumber(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return strings.TrimPrefix(b.String(), "00")
}
