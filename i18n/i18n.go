// Package i18n holds the Control Panel's translations (de, en, fr) and the per-request language.
// Every user-visible string goes through T; locale files are embedded, one set per feature
// (locales/<feature>.<lang>.json), so features can be added without touching each other's files.
package i18n

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Languages are the UI languages, in the order the language menu shows them. German is the default.
var Languages = []string{"de", "en", "fr"}

// Default is the language used when nothing else decides.
const Default = "de"

//go:embed locales/*.json
var localeFS embed.FS

type catalog struct {
	bundle     *goi18n.Bundle
	localizers map[string]*goi18n.Localizer
	keys       map[string]map[string]bool // lang -> message IDs
	// plain holds every message translated without template data, per language (with the
	// fallbacks applied): a page asks for dozens of fixed strings, and go-i18n's Localize
	// resolves the language, the plural form and the message template again on every call.
	plain map[string]map[string]string
}

// cat is built once from embedded files and never changes afterwards.
var cat = mustLoad(localeFS)

func mustLoad(fsys fs.FS) *catalog {
	c, err := load(fsys)
	if err != nil {
		panic(err)
	}
	return c
}

func load(fsys fs.FS) (*catalog, error) {
	b := goi18n.NewBundle(language.German)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	c := &catalog{bundle: b, localizers: map[string]*goi18n.Localizer{}, keys: map[string]map[string]bool{}}
	paths, err := fs.Glob(fsys, "locales/*.json")
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		mf, err := b.ParseMessageFileBytes(data, p)
		if err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", p, err)
		}
		lang := mf.Tag.String()
		if c.keys[lang] == nil {
			c.keys[lang] = map[string]bool{}
		}
		for _, m := range mf.Messages {
			if c.keys[lang][m.ID] {
				return nil, fmt.Errorf("i18n: %s: message %q defined twice", p, m.ID)
			}
			c.keys[lang][m.ID] = true
		}
	}
	all := map[string]bool{}
	for _, ids := range c.keys {
		for id := range ids {
			all[id] = true
		}
	}
	c.plain = map[string]map[string]string{}
	for _, l := range Languages {
		loc := goi18n.NewLocalizer(b, l)
		c.localizers[l] = loc
		c.plain[l] = make(map[string]string, len(all))
		for id := range all {
			if s, err := loc.Localize(&goi18n.LocalizeConfig{MessageID: id}); err == nil && s != "" {
				c.plain[l][id] = s
			}
		}
	}
	return c, nil
}

type ctxKey struct{}

// WithLang returns a context carrying the request's UI language.
func WithLang(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, ctxKey{}, Normalize(lang))
}

// Lang is the UI language carried by ctx, or Default.
func Lang(ctx context.Context) string {
	if l, ok := ctx.Value(ctxKey{}).(string); ok {
		return l
	}
	return Default
}

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Normalize maps anything unsupported to Default.
func Normalize(lang string) string {
	if Supported(lang) {
		return lang
	}
	return Default
}

var matcher = language.NewMatcher([]language.Tag{language.German, language.English, language.French})

// FromAcceptLanguage picks the best UI language for an Accept-Language header, or "" when none fits.
func FromAcceptLanguage(header string) string {
	if strings.TrimSpace(header) == "" {
		return ""
	}
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(tags) == 0 {
		return ""
	}
	_, idx, conf := matcher.Match(tags...)
	if conf == language.No {
		return ""
	}
	return Languages[idx]
}

// T translates id into the context's language. data fills {{.Name}} placeholders; a "Count"
// in it also picks the message's plural form ("one", "other", as CLDR says for the language).
// A missing key yields the id itself so a gap is visible, never a crash; TestParity keeps that
// from shipping.
func T(ctx context.Context, id string, data ...map[string]any) string {
	return TL(Lang(ctx), id, data...)
}

// TL translates id into lang.
func TL(lang, id string, data ...map[string]any) string {
	lang = Normalize(lang)
	if len(data) == 0 {
		if s, ok := cat.plain[lang][id]; ok {
			return s
		}
		return id
	}
	loc := cat.localizers[lang]
	cfg := &goi18n.LocalizeConfig{MessageID: id, TemplateData: data[0]}
	if n, ok := data[0]["Count"]; ok { // messages with a count may have plural forms
		cfg.PluralCount = n
	}
	s, err := loc.Localize(cfg)
	if err != nil || s == "" {
		return id
	}
	return s
}

// Has reports whether id exists in lang (tests and error mapping use it).
func Has(lang, id string) bool { return cat.keys[lang][id] }

// Keys lists all message IDs of lang, sorted.
func Keys(lang string) []string {
	ks := make([]string, 0, len(cat.keys[lang]))
	for k := range cat.keys[lang] {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
