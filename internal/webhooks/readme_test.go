package webhooks_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
	"callrec/internal/webhooks"
	"callrec/models"
)

// readmeBlock is the fenced code block of README.md that starts with ```lang after marker.
func readmeBlock(t *testing.T, marker, lang string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, marker)
	if i < 0 {
		t.Fatalf("README has no %q", marker)
	}
	s = s[i:]
	start := strings.Index(s, "```"+lang+"\n")
	end := strings.Index(s[start+4:], "```\n")
	if start < 0 || end < 0 {
		t.Fatalf("README: no ```%s block after %q", lang, marker)
	}
	return s[start+len(lang)+4 : start+4+end]
}

// TestREADMEVerifiesSignatures runs README's receiver checks, the Go function and the shell
// lines, on a message signed by the product, and on one with a changed body.
func TestREADMEVerifiesSignatures(t *testing.T) {
	secret := models.NewWebhookSecret()
	id, ts := "msg_readme", time.Now()
	body := []byte(`{"type":"recording.completed","data":{}}`)
	sig, err := webhooks.Sign([]string{models.NewWebhookSecret(), secret}, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	unix := strconv.FormatInt(ts.Unix(), 10)
	dir := t.TempDir()

	// The shell lines.
	testtool.Need(t, "openssl", "openssl")
	sh := readmeBlock(t, "and in a shell", "sh")
	for _, c := range []struct {
		body string
		want bool
	}{{string(body), true}, {string(body) + " ", false}} {
		if err := os.WriteFile(filepath.Join(dir, "body.json"), []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "-euc", sh)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SECRET="+secret, "ID="+id, "TS="+unix, "SIG="+sig)
		out, err := cmd.CombinedOutput()
		if got := err == nil && strings.TrimSpace(string(out)) == "valid"; got != c.want {
			t.Fatalf("README's shell check on %q: %v %s", c.body, err, out)
		}
	}

	// The Go function, in a program of its own.
	goBin := testtool.Need(t, "go", "golang-go")
	prog := `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

` + readmeBlock(t, "A receiver checks it like this, in Go", "go") + `
func main() {
	r, _ := http.NewRequest("POST", "/", nil)
	r.Header.Set("webhook-id", os.Args[2])
	r.Header.Set("webhook-timestamp", os.Args[3])
	r.Header.Set("webhook-signature", os.Args[4])
	if !verified(os.Args[1], r, []byte(os.Args[5])) {
		os.Exit(1)
	}
	_ = strconv.Itoa
	_ = time.Now
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(prog), 0o600); err != nil {
		t.Fatal(err)
	}
	build := exec.Command(goBin, "build", "-o", filepath.Join(dir, "verify"), filepath.Join(dir, "main.go"))
	build.Env = append(os.Environ(), "GO111MODULE=off", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("README's Go does not build: %v\n%s\n%s", err, out, prog)
	}
	if out, err := exec.Command(filepath.Join(dir, "verify"), secret, id, unix, sig, string(body)).CombinedOutput(); err != nil {
		t.Fatalf("README's Go rejects a good message: %v %s", err, out)
	}
	if err := exec.Command(filepath.Join(dir, "verify"), secret, id, unix, sig, string(body)+" ").Run(); err == nil {
		t.Fatal("README's Go accepts a changed body")
	}
}
