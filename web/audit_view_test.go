package web

import (
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"callrec/i18n"
	"callrec/models"
)

// auditKindRE matches the form of an audit kind: a literal of this form in the product's code is
// one, unless it is a webhook event name.
var auditKindRE = regexp.MustCompile(`^(booking|settings|announcement|file|recording|ftp|ftps|sftp|webhook)\.[a-z_]+$`)

// TestAuditKindsAndFieldsTranslated: every kind of audit event the code writes is in auditKinds,
// and every kind and field name has its label in de, en and fr, so the log never shows a raw
// key ("recording.stopped", "price_cents").
func TestAuditKindsAndFieldsTranslated(t *testing.T) {
	for _, k := range auditKinds {
		for _, l := range i18n.Languages {
			if !i18n.Has(l, "audit.kind."+k) {
				t.Errorf("audit kind %q has no %s label (audit.kind.%s)", k, l, k)
			}
		}
	}
	for _, f := range auditFieldNames {
		for _, l := range i18n.Languages {
			if !i18n.Has(l, "audit.field."+f) {
				t.Errorf("audit field %q has no %s label (audit.field.%s)", f, l, f)
			}
		}
	}
	// The code's string literals of a kind's form: each must be a listed kind (ftps/sftp kinds
	// are made from the protocol's name in web/ftpd, so they are listed by hand).
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "third_party" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.HasSuffix(p, "_templ.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !strings.Contains(string(src), "Audit") {
			return nil
		}
		var s scanner.Scanner
		fset := token.NewFileSet()
		s.Init(fset.AddFile(p, -1, len(src)), src, nil, 0)
		for {
			pos, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok != token.STRING {
				continue
			}
			v, err := strconv.Unquote(lit)
			if err != nil || !auditKindRE.MatchString(v) || slices.Contains(models.WebhookEvents, v) || v == models.EventWebhookTest {
				continue
			}
			if !slices.Contains(auditKinds, v) {
				t.Errorf("%s: %q looks like an audit kind but is not in auditKinds", fset.Position(pos), v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
