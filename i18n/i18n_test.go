package i18n

import (
	"context"
	"testing"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
)

// TestParity fails when any message exists in one language but not in another.
func TestParity(t *testing.T) {
	all := map[string]bool{}
	for _, l := range Languages {
		for _, k := range Keys(l) {
			all[k] = true
		}
	}
	if len(all) == 0 {
		t.Fatal("no messages loaded")
	}
	for k := range all {
		for _, l := range Languages {
			if !Has(l, k) {
				t.Errorf("message %q is missing in %s", k, l)
			}
		}
	}
}

func TestTranslateAndFallbacks(t *testing.T) {
	ctx := WithLang(context.Background(), "en")
	if got := T(ctx, "nav.pools"); got != "Number pools" {
		t.Errorf("en nav.pools = %q", got)
	}
	if got := T(WithLang(context.Background(), "xx"), "nav.pools"); got != "Rufnummernpools" {
		t.Errorf("unsupported language should fall back to German, got %q", got)
	}
	if got := T(ctx, "no.such.key"); got != "no.such.key" {
		t.Errorf("missing key = %q", got)
	}
	if got := T(ctx, "flash.welcome", map[string]any{"Name": "Ada"}); got != "Welcome, Ada." {
		t.Errorf("template data: %q", got)
	}
}

func TestFromAcceptLanguage(t *testing.T) {
	for in, want := range map[string]string{
		"fr-CH, fr;q=0.9, en;q=0.8": "fr",
		"en-US,en;q=0.5":            "en",
		"de":                        "de",
		"ja":                        "",
		"":                          "",
		"garbage;;;q=":              "",
	} {
		if got := FromAcceptLanguage(in); got != want {
			t.Errorf("FromAcceptLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPlainTable checks the precomputed translations against go-i18n itself, for every message
// in every language, so the fast path can never say something else than the library would.
func TestPlainTable(t *testing.T) {
	for _, l := range Languages {
		for _, id := range Keys("de") {
			want, err := cat.localizers[l].Localize(&goi18n.LocalizeConfig{MessageID: id})
			if err != nil || want == "" {
				want = id
			}
			if got := TL(l, id); got != want {
				t.Errorf("%s %s: %q, go-i18n says %q", l, id, got, want)
			}
		}
	}
}

// TestPluralForms checks that a Count picks the plural form as each language counts.
func TestPluralForms(t *testing.T) {
	for _, c := range []struct {
		lang string
		n    any
		want string
	}{
		{"de", 1, "1 Aufnahme"}, {"de", 0, "0 Aufnahmen"}, {"de", int64(2), "2 Aufnahmen"},
		{"en", int64(1), "1 recording"}, {"en", 50, "50 recordings"},
		{"fr", 0, "0 enregistrement"}, {"fr", 1, "1 enregistrement"}, {"fr", int64(100000), "100000 enregistrements"},
	} {
		if got := TL(c.lang, "files.total", map[string]any{"Count": c.n}); got != c.want {
			t.Errorf("%s %v: %q, want %q", c.lang, c.n, got, c.want)
		}
	}
	if got := TL("de", "calls.total", map[string]any{"Count": 3}); got != "Gefundene Anrufe: 3" {
		t.Errorf("a message without plural forms: %q", got)
	}
}
