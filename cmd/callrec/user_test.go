package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"callrec/models"
)

// TestUserPasswdAndAPIKeyFindTheDataFolder: "callrec user passwd" and "callrec apikey create"
// find the database as serve does (CALLREC_DATA here, no flag); the printed password signs in,
// the old one no longer does, the printed token authenticates; an unknown user, a short password
// and a folder without a database are clear errors that change nothing.
func TestUserPasswdAndAPIKeyFindTheDataFolder(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	store, err := models.Open(filepath.Join(data, "callrec.db"))
	if err != nil {
		t.Fatal(err)
	}
	demo, _, err := store.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	env := func(k string) string { return map[string]string{"CALLREC_DATA": data}[k] }

	var out bytes.Buffer
	if err := run(ctx, []string{"user", "passwd", demo.Admin}, env, &out); err != nil {
		t.Fatalf("user passwd: %v", err)
	}
	prefix := "New password for " + demo.Admin + ": "
	line := strings.TrimSpace(out.String())
	if !strings.HasPrefix(line, prefix) || len(line) <= len(prefix)+8 {
		t.Fatalf("user passwd printed %q", out.String())
	}
	pw := strings.TrimPrefix(line, prefix)

	out.Reset()
	if err := run(ctx, []string{"apikey", "create", "--user", demo.Admin}, env, &out); err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	tok := strings.TrimSpace(out.String())

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "passwd", "nobody"}, `no user "nobody"`},
		{[]string{"apikey", "create", "--user", "nobody"}, `no user "nobody"`},
		{[]string{"user", "passwd"}, "usage: callrec user passwd"},
		{[]string{"user", "passwd", demo.Admin, "--data", t.TempDir()}, "no database at"},
	} {
		if err := run(ctx, c.args, env, &out); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	if err := user(ctx, []string{"passwd", demo.Admin, "--stdin"}, env, strings.NewReader("abc\n"), &out); err == nil || !strings.Contains(err.Error(), "at least") {
		t.Errorf("short password: %v", err)
	}

	store, err = models.Open(filepath.Join(data, "callrec.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Authenticate(ctx, demo.Admin, pw); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	if _, err := store.Authenticate(ctx, demo.Admin, demo.AdminPassword); err == nil {
		t.Errorf("the old password still signs in")
	}
	if u, err := store.UserByToken(ctx, tok); err != nil || u.Username != demo.Admin {
		t.Errorf("the token %q: %+v %v", tok, u, err)
	}
}
