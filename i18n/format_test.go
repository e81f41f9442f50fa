package i18n

import (
	"testing"
	"time"
)

// TestFormats: the examples, and the same values in English and French.
func TestFormats(t *testing.T) {
	at := time.Date(2026, 12, 1, 14, 2, 59, 0, time.UTC)
	for _, c := range []struct{ got, want string }{
		{Money("de", 1990, "EUR"), "19,90\u00a0€"},
		{Money("en", 1990, "EUR"), "€19.90"},
		{Money("fr", 1990, "EUR"), "19,90\u00a0€"},
		{Money("de", 1234567, "CHF"), "12.345,67\u00a0CHF"},
		{Money("en", 1234567, "CHF"), "CHF\u00a012,345.67"},
		{Money("de", 5, "EUR"), "0,05\u00a0€"},
		{Money("de", -990, "EUR"), "-9,90\u00a0€"},
		{Hertz("de", 44100), "44,1\u00a0kHz"},
		{Hertz("en", 44100), "44.1\u00a0kHz"},
		{Hertz("de", 16000), "16\u00a0kHz"},
		{Hertz("de", 22050), "22,05\u00a0kHz"},
		{Size("de", 5<<20+1<<19), "5,5\u00a0MB"},
		{Size("en", 5<<20+1<<19), "5.5\u00a0MB"},
		{Size("de", 1536), "2\u00a0kB"},
		{Size("de", 12), "12\u00a0B"},
		{Int("de", 1234), "1234"},
		{Int("de", 12345), "12.345"},
		{Int("en", 1234567), "1,234,567"},
		{DateTime("de", at), "01.12.2026 14:02"},
		{DateTime("en", at), "2026-12-01 14:02"},
		{DateTime("fr", at), "01/12/2026 14:02"},
		{Date("de", at), "01.12.2026"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	// The fast path is time.Format's answer for every year it handles.
	for _, tm := range []time.Time{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 3, 1, 0, 0, 0, 0, time.UTC)} {
		for _, l := range Languages {
			if got, want := DateTime(l, tm), tm.Format(DateTimeLayout(l)); got != want {
				t.Errorf("DateTime(%s, %v) = %q, want %q", l, tm, got, want)
			}
		}
	}
}
