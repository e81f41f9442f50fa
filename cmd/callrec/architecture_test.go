package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestArchitectureListsEveryFlag holds the runtime contract in ARCHITECTURE.md to serve's
// flags: every flag and its environment twin are in the flags table, and every flag the table
// names exists.
func TestArchitectureListsEveryFlag(t *testing.T) {
	var usage bytes.Buffer
	if _, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("serve -h: %v", err)
	}
	doc, err := os.ReadFile("../../ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "\n| flag | environment | default |\n")
	if !ok {
		t.Fatal("ARCHITECTURE.md has no flags table (| flag | environment | default |)")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	// usage lines: "  -name type" then the help text ending in "(CALLREC_X)" and the default.
	flagRE := regexp.MustCompile(`(?m)^  -([a-z-]+)`)
	envRE := regexp.MustCompile(`\((CALLREC_[A-Z_]+)\)`)
	names := flagRE.FindAllStringSubmatch(usage.String(), -1)
	if len(names) < 10 {
		t.Fatalf("only %d flags in serve -h", len(names))
	}
	flags := map[string]bool{}
	for i, m := range names {
		end := len(usage.String())
		if i+1 < len(names) {
			end = strings.Index(usage.String(), names[i+1][0])
		}
		help := usage.String()[strings.Index(usage.String(), m[0]):end]
		flags[m[1]] = true
		if !strings.Contains(table, "`--"+m[1]+"`") {
			t.Errorf("ARCHITECTURE.md's flags table lacks --%s", m[1])
		}
		env := envRE.FindStringSubmatch(help)
		if env == nil {
			t.Errorf("--%s names no environment twin in its help", m[1])
		} else if !strings.Contains(table, "`"+env[1]+"`") {
			t.Errorf("ARCHITECTURE.md's flags table lacks %s (for --%s)", env[1], m[1])
		}
	}
	for _, m := range regexp.MustCompile("`--([a-z-]+)`").FindAllStringSubmatch(table, -1) {
		if !flags[m[1]] {
			t.Errorf("ARCHITECTURE.md's flags table names --%s, which serve does not have", m[1])
		}
	}
}
