package enginestore

import (
	"slices"
	"testing"

	"callrec/calls"
	"callrec/media/prompts"
)

// The engine picks a prompt's language with prompts.Lang, the panel shows it with
// calls.PromptLang: both must give every customer setting the same language.
func TestPromptLanguagesAgree(t *testing.T) {
	if !slices.Equal(prompts.Langs, calls.PromptLangs) {
		t.Errorf("prompts.Langs %v, calls.PromptLangs %v", prompts.Langs, calls.PromptLangs)
	}
	for _, l := range []string{"", "de", "DE", " de ", "de-AT", "de_CH", "en", "fr", "fr-CH", "dee", "d"} {
		if a, b := prompts.Lang(l), calls.PromptLang(l); a != b {
			t.Errorf("%q: prompts.Lang %q, calls.PromptLang %q", l, a, b)
		}
	}
}
