package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestHelpListsEveryCommand: "callrec --help" (and -h, help) prints the usage, which names every
// command run dispatches (read from main.go, so a new command without a usage line fails); an
// unknown command is an error that shows it too.
func TestHelpListsEveryCommand(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	cmds := regexp.MustCompile(`(?m)^\tcase "([a-z-]+)":`).FindAllStringSubmatch(string(src), -1)
	if len(cmds) < 5 {
		t.Fatalf("found %d commands in main.go", len(cmds))
	}
	for _, arg := range []string{"--help", "-h", "help"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{arg}, func(string) string { return "" }, &out); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		for _, c := range cmds {
			if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(c[1]) + `\b`).MatchString(out.String()) {
				t.Errorf("%s does not list the command %q:\n%s", arg, c[1], out.String())
			}
		}
	}
	err = run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) || !strings.Contains(err.Error(), "testcall") {
		t.Errorf("unknown command: %v", err)
	}
}
