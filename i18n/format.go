package i18n

import (
	"strconv"
	"strings"
	"time"
)

// Numbers, money, sizes and dates as each UI language writes them: German and French with a
// decimal comma, money after the amount (19,90 €), English with a decimal point and the symbol
// first (€19.90). Dates have one style per language across every page: 01.12.2026 14:02,
// 2026-12-01 14:02, 01/12/2026 14:02.

// nbsp keeps a number and its unit on one line.
const nbsp = "\u00a0"

func decimalSep(lang string) string {
	if Normalize(lang) == "en" {
		return "."
	}
	return ","
}

func groupSep(lang string) string {
	switch Normalize(lang) {
	case "en":
		return ","
	case "fr":
		return "\u202f" // narrow no-break space
	}
	return "."
}

// group writes the digits of n >= 0 with lang's thousands separator.
func group(lang string, n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) <= 4 { // 1234, not 1.234: as the languages' style guides write four digits
		return s
	}
	var b strings.Builder
	sep := groupSep(lang)
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Int formats a whole number: 12.345 (de), 12,345 (en).
func Int(lang string, n int64) string {
	if n < 0 {
		return "-" + group(lang, -n)
	}
	return group(lang, n)
}

// Decimal formats f with prec digits after the separator, trailing zeros of the fraction
// dropped: Decimal("de", 44.1, 1) = "44,1", Decimal("de", 16, 1) = "16".
func Decimal(lang string, f float64, prec int) string {
	s := strconv.FormatFloat(f, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return strings.Replace(s, ".", decimalSep(lang), 1)
}

var currencySymbols = map[string]string{"EUR": "€", "USD": "$", "GBP": "£"}

// Money formats an amount in cents: 19,90 € (de, fr), €19.90 (en); a currency without a
// symbol keeps its code (19,90 CHF, CHF 19.90).
func Money(lang string, cents int64, currency string) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	amount := Int(lang, cents/100) + decimalSep(lang) + strconv.FormatInt(cents%100/10, 10) + strconv.FormatInt(cents%10, 10)
	sym, ok := currencySymbols[currency]
	if !ok {
		sym = currency
	}
	var s string
	switch {
	case Normalize(lang) == "en" && ok:
		s = sym + amount
	case Normalize(lang) == "en":
		s = sym + nbsp + amount
	default:
		s = amount + nbsp + sym
	}
	if neg {
		return "-" + s
	}
	return s
}

// Size formats a byte count in kB, MB or GB (1024-based, as file managers show them):
// 1,5 MB (de), 1.5 MB (en).
func Size(lang string, n int64) string {
	switch {
	case n >= 1<<30:
		return Decimal(lang, float64(n)/(1<<30), 1) + nbsp + "GB"
	case n >= 1<<20:
		return Decimal(lang, float64(n)/(1<<20), 1) + nbsp + "MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 0, 64) + nbsp + "kB"
	}
	return strconv.FormatInt(n, 10) + nbsp + "B"
}

// Hertz formats a sample rate: 44,1 kHz (de), 44.1 kHz (en), 8 kHz.
func Hertz(lang string, hz int) string {
	if hz < 1000 {
		return strconv.Itoa(hz) + nbsp + "Hz"
	}
	return Decimal(lang, float64(hz)/1000, 3) + nbsp + "kHz"
}

// DateLayout and DateTimeLayout are lang's date and date-and-time styles (time.Format).
func DateLayout(lang string) string {
	switch Normalize(lang) {
	case "en":
		return "2006-01-02"
	case "fr":
		return "02/01/2006"
	}
	return "02.01.2006"
}

func DateTimeLayout(lang string) string { return DateLayout(lang) + " 15:04" }

// DateTime formats t (already in the zone to show) as lang writes a date and time:
// 01.12.2026 14:02 (de), 2026-12-01 14:02 (en), 01/12/2026 14:02 (fr).
func DateTime(lang string, t time.Time) string { return string(AppendDateTime(lang, nil, t)) }

// Date formats t's day as lang writes it.
func Date(lang string, t time.Time) string { return t.Format(DateLayout(lang)) }

// AppendDateTime appends DateTime(lang, t) to b without allocating for the years 0 to 9999 (the
// File Browser formats every row of its list with it).
func AppendDateTime(lang string, b []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, _ := t.Clock()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, DateTimeLayout(lang))
	}
	switch Normalize(lang) {
	case "en":
		b = AppendDigits(b, y, 4)
		b = AppendDigits(append(b, '-'), int(mo), 2)
		b = AppendDigits(append(b, '-'), d, 2)
	case "fr":
		b = AppendDigits(b, d, 2)
		b = AppendDigits(append(b, '/'), int(mo), 2)
		b = AppendDigits(append(b, '/'), y, 4)
	default:
		b = AppendDigits(b, d, 2)
		b = AppendDigits(append(b, '.'), int(mo), 2)
		b = AppendDigits(append(b, '.'), y, 4)
	}
	b = AppendDigits(append(b, ' '), h, 2)
	return AppendDigits(append(b, ':'), mi, 2)
}

// AppendDigits appends n (>= 0) with at least width digits, zero-padded.
func AppendDigits(b []byte, n, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for n >= 10 || width > 1 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	buf[i] = byte('0' + n)
	return append(b, buf[i:]...)
}
