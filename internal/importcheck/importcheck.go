// Package importcheck holds a module's imports to the table "Who may import whom" in its
// ARCHITECTURE.md. The table itself is the rule set: ParseTable reads it from the file and
// Check applies it, so the document and the check cannot drift. The test of this package runs
// it on the whole module (it is part of make test, make lint and .ci/run).
//
// A row names packages (relative to the module), the project packages their code may import
// ("may import") and what neither their code nor their tests may import ("must never
// import", project packages or other modules). A token is written in backquotes; a trailing *
// matches any rest of a path; "*" alone matches everything; a cell without tokens is nothing.
// Every package matches exactly one row, and every row matches some package.
package importcheck

import (
	"bufio"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Heading is the section of ARCHITECTURE.md whose first table is the import table.
const Heading = "## Who may import whom"

// Rule is one row of the table.
type Rule struct {
	Line     int      // in the file, for messages
	Packages []string // patterns of the packages the row is about, relative to the module
	May      []string // patterns of project packages their code may import
	Never    []string // patterns their code and tests must not import; project ones relative
}

// Package is one package of the module as go list describes it: import paths in full.
type Package struct {
	Path        string   // full import path
	Imports     []string // of its code
	TestImports []string // of its tests (in-package and external)
}

var tokenRE = regexp.MustCompile("`([^`]+)`")

// ParseTable reads the import table from the text of ARCHITECTURE.md.
func ParseTable(doc string) ([]Rule, error) {
	sc := bufio.NewScanner(strings.NewReader(doc))
	line, inSection, inTable := 0, false, false
	var rules []Rule
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		switch {
		case !inSection:
			inSection = text == Heading
			continue
		case !inTable && strings.HasPrefix(text, "## "):
			return nil, fmt.Errorf("%q has no table", Heading)
		case !inTable && !strings.HasPrefix(text, "|"):
			continue
		case inTable && !strings.HasPrefix(text, "|"):
			return rules, checkRules(rules)
		}
		if !inTable { // the header row
			inTable = true
			if cells := splitRow(text); len(cells) != 3 {
				return nil, fmt.Errorf("line %d: the import table has %d columns, want 3 (package, may import, must never import)", line, len(cells))
			}
			continue
		}
		cells := splitRow(text)
		if len(cells) != 3 {
			return nil, fmt.Errorf("line %d: %d cells, want 3", line, len(cells))
		}
		if strings.Trim(cells[0], "-: ") == "" { // the separator row
			continue
		}
		r := Rule{Line: line, Packages: tokens(cells[0]), May: tokens(cells[1]), Never: tokens(cells[2])}
		if len(r.Packages) == 0 {
			return nil, fmt.Errorf("line %d: a row without a package", line)
		}
		rules = append(rules, r)
	}
	if !inTable {
		return nil, fmt.Errorf("no section %q with a table", Heading)
	}
	return rules, checkRules(rules)
}

func splitRow(text string) []string {
	text = strings.TrimSuffix(strings.TrimPrefix(text, "|"), "|")
	return strings.Split(text, "|")
}

func tokens(cell string) []string {
	var out []string
	for _, m := range tokenRE.FindAllStringSubmatch(cell, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

func checkRules(rules []Rule) error {
	if len(rules) == 0 {
		return fmt.Errorf("the import table has no rows")
	}
	for _, r := range rules {
		for _, t := range append(append(append([]string(nil), r.Packages...), r.May...), r.Never...) {
			if t == "" || strings.ContainsAny(t, " \t") || strings.Contains(t[:len(t)-1], "*") {
				return fmt.Errorf("line %d: bad pattern %q", r.Line, t)
			}
		}
	}
	return nil
}

// Match reports whether path matches pattern ("x" is x, "x*" everything starting with x, "*"
// everything).
func Match(pattern, path string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, p)
	}
	return path == pattern
}

func matchAny(patterns []string, path string) bool {
	for _, p := range patterns {
		if Match(p, path) {
			return true
		}
	}
	return false
}

// isModule reports whether a never-pattern names another module (its first element has a dot,
// like gorm.io/* or github.com/...) rather than a package of this one.
func isModule(pattern string) bool {
	first, _, _ := strings.Cut(pattern, "/")
	return strings.Contains(first, ".")
}

// Check applies rules to the packages of module (its path, e.g. "callrec") and returns one
// message per broken rule, sorted; none when the module follows the table.
func Check(module string, rules []Rule, pkgs []Package) []string {
	var bad []string
	rel := func(p string) (string, bool) {
		if p == module {
			return ".", true
		}
		return strings.CutPrefix(p, module+"/")
	}
	used := make([]bool, len(rules))
	for _, p := range pkgs {
		name, ok := rel(p.Path)
		if !ok {
			continue
		}
		var rows []int
		for i, r := range rules {
			if matchAny(r.Packages, name) {
				rows = append(rows, i)
			}
		}
		switch len(rows) {
		case 0:
			bad = append(bad, fmt.Sprintf("%s has no row in the import table: add one to ARCHITECTURE.md", name))
			continue
		case 1:
		default:
			lines := make([]string, len(rows))
			for i, r := range rows {
				lines[i] = fmt.Sprint(rules[r].Line)
			}
			bad = append(bad, fmt.Sprintf("%s matches several rows of the import table (lines %s)", name, strings.Join(lines, ", ")))
			continue
		}
		r := rules[rows[0]]
		used[rows[0]] = true
		for _, imp := range p.Imports {
			if dep, own := rel(imp); own && !matchAny(r.May, dep) {
				bad = append(bad, fmt.Sprintf("%s imports %s, which its row (ARCHITECTURE.md line %d) does not allow", name, dep, r.Line))
			}
		}
		for _, set := range []struct {
			what    string
			imports []string
		}{{" imports", p.Imports}, {"'s tests import", p.TestImports}} {
			for _, imp := range set.imports {
				dep, own := rel(imp)
				for _, n := range r.Never {
					if isModule(n) && !own && Match(n, imp) || !isModule(n) && own && Match(n, dep) {
						bad = append(bad, fmt.Sprintf("%s%s %s, which its row (ARCHITECTURE.md line %d) forbids", name, set.what, imp, r.Line))
					}
				}
			}
		}
	}
	for i, r := range rules {
		if !used[i] {
			bad = append(bad, fmt.Sprintf("ARCHITECTURE.md line %d names %v, which match no package: remove or fix the row", r.Line, r.Packages))
		}
	}
	sort.Strings(bad)
	return bad
}
