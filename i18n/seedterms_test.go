package i18n

import (
	"strings"
	"testing"
)

// TestGermanUsesTheSeedTerms: the German copy names things as the product document does (the
// announcement slots, the number pool, the start number, the subscriber id), the same on every
// page, and writes the file browser one way.
func TestGermanUsesTheSeedTerms(t *testing.T) {
	want := map[string]string{
		"announce.slot_caller_notice":          "Ansage für Anrufer",
		"announce.slot_objection_confirmation": "Bestätigung Widerspruch",
		"announce.slot_callee_whisper":         "Whisper Sound für Angerufenen",
		"booking.slot.caller_notice":           "Ansage für Anrufer",
		"booking.slot.objection_confirmation":  "Bestätigung Widerspruch",
		"booking.slot.callee_whisper":          "Whisper Sound für Angerufenen",
		"nav.pools":                            "Rufnummernpools",
		"files.start_number":                   "Startnummer",
		"files.subscriber_id":                  "Subscriber-ID", // the document's term, hyphenated as German writes it
		"files.nav":                            "Datei-Browser",
	}
	for k, v := range want {
		if got := TL("de", k); got != v {
			t.Errorf("%s = %q, the product document says %q", k, got, v)
		}
	}
	for _, k := range Keys("de") {
		msg := TL("de", k)
		for _, odd := range []string{"Datei Browser", "Dateibrowser", "Datei Manager", "Dateimanager", "Wiederspruch"} {
			if strings.Contains(msg, odd) {
				t.Errorf("%s writes %q: %q (the panel says Datei-Browser, Widerspruch)", k, odd, msg)
			}
		}
	}
}
