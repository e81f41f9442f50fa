// Package prompts holds the announcements callrec ships: their texts in German (verbatim from
// the product document) and English, and the same texts rendered as WAV 8-bit 16 kHz mono by
// `go run ./cmd/genprompts`. French customers hear English, as the product document says. A slot
// is named as in package calls (calls.Slots); its files are texts/<slot>.<lang>.txt and
// wav/<slot>.<lang>.wav.
package prompts

import (
	"embed"
	"strings"
)

// Langs lists the languages announcements exist in (as calls.PromptLangs; this package is a
// leaf, internal/enginestore's test holds the two to each other).
var Langs = []string{"de", "en"}

//go:embed texts/*.txt wav/*.wav
var files embed.FS

// Lang maps a customer's language setting to an announcement language: German for German
// ("de", "de-AT", "de_CH"), English for everything else. It is calls.PromptLang, which the
// panel uses; this package imports nothing of the project, so internal/enginestore's
// TestPromptLanguagesAgree holds the two together.
func Lang(customerLang string) string {
	l := strings.ToLower(strings.TrimSpace(customerLang))
	if l == "de" || strings.HasPrefix(l, "de-") || strings.HasPrefix(l, "de_") {
		return "de"
	}
	return "en"
}

// Text is the default text of slot in lang (mapped by Lang); "" for an unknown slot.
func Text(slot, lang string) string {
	b, err := files.ReadFile("texts/" + slot + "." + Lang(lang) + ".txt")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// WAV is the default recording of slot in lang (mapped by Lang), WAV PCM 8-bit 16 kHz mono;
// nil for an unknown slot. The slice is shared: do not modify it.
func WAV(slot, lang string) []byte {
	b, err := files.ReadFile("wav/" + slot + "." + Lang(lang) + ".wav")
	if err != nil {
		return nil
	}
	return b
}

var digitWords = map[string][10]string{
	"de": {"null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"},
	"en": {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"},
}

var keyWords = map[string]map[rune]string{
	"de": {'#': "Raute", '*': "Stern"},
	"en": {'#': "hash", '*': "star"},
}

// quotes are dropped: a speech engine reads some of them aloud or stumbles over them.
const quotes = "„“”‚‘’«»‹›\""

// Speakable turns a prompt text into what a speech engine should read: the keypad keys "#" and
// "*" become words ("Raute"/"hash", "Stern"/"star") and digits right after them are spelled
// ("#1" -> "Raute eins" / "hash one"), so the caller hears the keys to press; typographic quotes
// go. Words like "Sterntaste" are left as they are.
func Speakable(text, lang string) string {
	lang = Lang(lang)
	keys, digits := keyWords[lang], digitWords[lang]
	var b strings.Builder
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if strings.ContainsRune(quotes, r) {
			continue
		}
		w, ok := keys[r]
		if !ok {
			b.WriteRune(r)
			continue
		}
		b.WriteString(" " + w)
		for i+1 < len(rs) && rs[i+1] >= '0' && rs[i+1] <= '9' {
			i++
			b.WriteString(" " + digits[rs[i]-'0'])
		}
		b.WriteString(" ")
	}
	// Collapse the spaces the replacements added, keeping punctuation attached to its word.
	out := strings.Join(strings.Fields(b.String()), " ")
	for _, p := range []string{".", ",", "!", "?", ";", ":"} {
		out = strings.ReplaceAll(out, " "+p, p)
	}
	return out
}
