package prompts

import (
	"encoding/binary"
	"strings"
	"testing"

	"callrec/calls"
)

func TestTexts(t *testing.T) {
	want := map[calls.Slot]string{
		calls.SlotCallerNotice:          "Das nachfolgende Gespräch möchten wir gerne zum Zwecke der Qualitätssicherung aufzeichnen. Wenn Sie dies nicht wünschen, drücken Sie jetzt die ‚Sterntaste‘ auf Ihrer Telefontastatur oder geben Sie unserem Mitarbeiter einen Hinweis im Gespräch.",
		calls.SlotObjectionConfirmation: "Okay, das Gespräch wird nicht aufgezeichnet",
		calls.SlotCalleeWhisper:         "Dieses Gespräch wird eventuell aufgezeichnet, Aufnahme unterbrechen mit #1",
	}
	for slot, w := range want {
		if got := Text(string(slot), "de"); got != w {
			t.Errorf("%s de: %q, want %q", slot, got, w)
		}
	}
	for _, s := range calls.Slots {
		slot := string(s)
		en := Text(slot, "en")
		if en == "" || en == Text(slot, "de") {
			t.Errorf("%s en: %q", slot, en)
		}
		if Text(slot, "fr") != en || Text(slot, "xx") != en {
			t.Errorf("%s: French and unknown languages must use English", slot)
		}
	}
	if Text("nope", "de") != "" || WAV("nope", "de") != nil {
		t.Error("unknown slot must give nothing")
	}
}

func TestLang(t *testing.T) {
	for in, want := range map[string]string{"de": "de", "DE-at": "de", "de_CH": "de", "en": "en", "fr": "en", "": "en", "dk": "en"} {
		if got := Lang(in); got != want {
			t.Errorf("Lang(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSpeakable(t *testing.T) {
	cases := []struct{ in, lang, want string }{
		{Text(string(calls.SlotCalleeWhisper), "de"), "de", "Dieses Gespräch wird eventuell aufgezeichnet, Aufnahme unterbrechen mit Raute eins"},
		{"press #1.", "en", "press hash one."},
		{"Taste # oder *", "de", "Taste Raute oder Stern"},
		{"press *12, then #", "en", "press star one two, then hash"},
		{"die ‚Sterntaste‘ und „so“", "de", "die Sterntaste und so"},
	}
	for _, c := range cases {
		if got := Speakable(c.in, c.lang); got != c.want {
			t.Errorf("Speakable(%q, %s) = %q, want %q", c.in, c.lang, got, c.want)
		}
	}
	if s := Speakable(Text(string(calls.SlotCalleeWhisper), "de"), "de"); !strings.Contains(s, "Raute eins") {
		t.Errorf("%q lacks Raute eins", s)
	}
}

// The shipped recordings are in the announcement format and hold real speech, not a stub.
func TestWAVs(t *testing.T) {
	for _, s := range calls.Slots {
		slot := string(s)
		for _, lang := range Langs {
			b := WAV(slot, lang)
			if len(b) < 44 {
				t.Fatalf("%s.%s: %d bytes", slot, lang, len(b))
			}
			le16 := func(o int) int { return int(binary.LittleEndian.Uint16(b[o:])) }
			le32 := func(o int) int { return int(binary.LittleEndian.Uint32(b[o:])) }
			if string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
				t.Fatalf("%s.%s: not a canonical WAV header", slot, lang)
			}
			if le16(20) != 1 || le16(22) != 1 || le32(24) != 16000 || le16(34) != 8 {
				t.Errorf("%s.%s: tag %d, %d ch, %d Hz, %d bits; want PCM mono 16000 Hz 8 bits",
					slot, lang, le16(20), le16(22), le32(24), le16(34))
			}
			n := le32(40)
			if n+44+n&1 != len(b) || le32(4) != len(b)-8 {
				t.Errorf("%s.%s: sizes in header do not match the file", slot, lang)
			}
			if n < 16000 {
				t.Errorf("%s.%s: %.1f s, want at least a second", slot, lang, float64(n)/16000)
			}
			// Speech, not silence: a good part of the samples is away from the midpoint.
			loud := 0
			for _, v := range b[44 : 44+n] {
				if v > 128+20 || v < 128-20 {
					loud++
				}
			}
			if loud < n/50 {
				t.Errorf("%s.%s: almost silent", slot, lang)
			}
		}
	}
}
