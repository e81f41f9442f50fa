package importcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// moduleRoot is the folder of the go.mod above this package, and the module's path.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if m, ok := strings.CutPrefix(strings.TrimSpace(l), "module "); ok {
					return dir, strings.TrimSpace(m)
				}
			}
			t.Fatalf("%s/go.mod names no module", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

func architectureRules(t *testing.T, root string) []Rule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseTable(string(b))
	if err != nil {
		t.Fatalf("ARCHITECTURE.md: %v", err)
	}
	return rules
}

// modulePackages lists the module's packages with go list, as the build sees them.
func modulePackages(t *testing.T, root string) []Package {
	t.Helper()
	// go test caches a passing run by the files the test itself looked at; go list reads the
	// sources in another process. Looking at every Go file here makes a changed import rerun
	// the check.
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports,Error", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
			Error                              *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Error != nil {
			t.Fatalf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, Package{Path: p.ImportPath, Imports: p.Imports, TestImports: append(p.TestImports, p.XTestImports...)})
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	return pkgs
}

// TestImportsFollowArchitecture is the import check of the repository.
func TestImportsFollowArchitecture(t *testing.T) {
	root, module := moduleRoot(t)
	rules := architectureRules(t, root)
	for _, msg := range Check(module, rules, modulePackages(t, root)) {
		t.Error(msg)
	}
}

// TestCheckFindsBadImports feeds the real table a made-up module with one broken rule of each
// kind, and a clean one.
func TestCheckFindsBadImports(t *testing.T) {
	root, _ := moduleRoot(t)
	rules := architectureRules(t, root)
	// One package per row, importing nothing: the clean base.
	var clean []Package
	for _, r := range rules {
		for _, p := range r.Packages {
			clean = append(clean, Package{Path: "callrec/" + strings.TrimSuffix(p, "*") + map[bool]string{true: "x"}[strings.HasSuffix(p, "*")]})
		}
	}
	if bad := Check("callrec", rules, clean); len(bad) != 0 {
		t.Fatalf("a module importing nothing breaks rules: %q", bad)
	}
	cases := []struct {
		name string
		pkg  Package
		want string
	}{
		{"the engine imports the store", Package{Path: "callrec/media", Imports: []string{"callrec/models"}},
			"media imports models, which its row"},
		{"the front doors reach into the engine", Package{Path: "callrec/web", Imports: []string{"callrec/media/sip"}},
			"web imports media/sip, which its row"},
		{"a media leaf imports a project package", Package{Path: "callrec/media/rtp", Imports: []string{"callrec/calls"}},
			"media/rtp imports calls, which its row"},
		{"the views query", Package{Path: "callrec/templates", Imports: []string{"gorm.io/gorm"}},
			"templates imports gorm.io/gorm, which its row"},
		{"an engine test uses the database", Package{Path: "callrec/media", TestImports: []string{"callrec/models"}},
			"media's tests import callrec/models, which its row"},
		{"a web test uses gorm", Package{Path: "callrec/web", TestImports: []string{"gorm.io/driver/sqlite"}},
			"web's tests import gorm.io/driver/sqlite, which its row"},
		{"a production package uses a test helper", Package{Path: "callrec/models", Imports: []string{"callrec/internal/testtool"}},
			"models imports internal/testtool, which its row"},
		{"a package without a row", Package{Path: "callrec/cluster"}, "cluster has no row in the import table"},
	}
	for _, c := range cases {
		pkgs := append([]Package{c.pkg}, clean...)
		bad := Check("callrec", rules, pkgs)
		found := false
		for _, msg := range bad {
			found = found || strings.Contains(msg, c.want)
		}
		if !found {
			t.Errorf("%s: got %q, want a message with %q", c.name, bad, c.want)
		}
	}
	// A row for a package that is gone.
	if bad := Check("callrec", rules, clean[1:]); len(bad) != 1 || !strings.Contains(bad[0], "match no package") {
		t.Errorf("a stale row: %q", bad)
	}
}

func TestParseTable(t *testing.T) {
	doc := "# x\n\n" + Heading + "\n\ntext\n\n| package | may import | never |\n|---|---|---|\n" +
		"| `a`, `b` | `c` (types only), `d/*` | `e.io/*` |\n| `f` | - | - |\n\nafter | not a row |\n"
	rules, err := ParseTable(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || strings.Join(rules[0].Packages, ",") != "a,b" || strings.Join(rules[0].May, ",") != "c,d/*" ||
		strings.Join(rules[0].Never, ",") != "e.io/*" || rules[0].Line != 9 || len(rules[1].May) != 0 {
		t.Errorf("rules %+v", rules)
	}
	for name, bad := range map[string]string{
		"no section":   "# x\n| `a` | - | - |\n",
		"no table":     Heading + "\n\ntext\n\n## Next\n",
		"two columns":  Heading + "\n| package | may |\n|---|---|\n| `a` | - |\n",
		"no package":   Heading + "\n| p | m | n |\n|---|---|---|\n| - | `a` | - |\n",
		"bad pattern":  Heading + "\n| p | m | n |\n|---|---|---|\n| `a*b` | - | - |\n",
		"empty table":  Heading + "\n| p | m | n |\n|---|---|---|\n\n",
		"ragged row":   Heading + "\n| p | m | n |\n|---|---|---|\n| `a` | - |\n",
		"space inside": Heading + "\n| p | m | n |\n|---|---|---|\n| `a b` | - | - |\n",
	} {
		if _, err := ParseTable(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{{"*", "anything", true}, {"media/*", "media/sip", true}, {"media/*", "media", false}, {"media*", "media", true},
		{"web", "web/ftpd", false}, {"gorm.io/*", "gorm.io/gorm", true}} {
		if Match(c.pattern, c.path) != c.want {
			t.Errorf("Match(%q, %q) = %v", c.pattern, c.path, !c.want)
		}
	}
}
