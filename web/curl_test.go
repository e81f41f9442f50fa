package web

import (
	"bufio"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"callrec/internal/testtool"
)

// curl is the curl binary as a client of the server under test, with its own cookie jar: the
// security tests speak to the server as a real peer does, not through Go's client.
type curl struct {
	t    testing.TB
	bin  string
	base string
	jar  string
	dir  string
	csrf string
	// shared: several curls use the jar at once, so none writes it.
	shared bool
}

func (e *env) curl() *curl {
	e.t.Helper()
	bin := testtool.Need(e.t, "curl", "curl")
	dir := e.t.TempDir()
	return &curl{t: e.t, bin: bin, base: e.srv.URL, jar: filepath.Join(dir, "cookies"), dir: dir}
}

// curlAnswer is what curl received; Exit is curl's exit code (0, or e.g. 55/56 when the server
// closed the connection while the body was still being sent: Status is then 0, or the 100
// Continue it had seen).
type curlAnswer struct {
	Status int
	Header http.Header
	Body   string
	Exit   int
	Stderr string
}

var curlN int

// do runs curl with args (after the cookie jar and output options) on path.
func (c *curl) do(path string, args ...string) curlAnswer {
	c.t.Helper()
	curlN++
	hdr := filepath.Join(c.dir, "h"+strconv.Itoa(curlN))
	body := filepath.Join(c.dir, "b"+strconv.Itoa(curlN))
	full := []string{"-sS", "-b", c.jar, "-D", hdr, "-o", body, "-w", "%{http_code}"}
	if !c.shared {
		full = append(full, "-c", c.jar)
	}
	full = append(full, args...)
	full = append(full, c.base+path)
	cmd := exec.Command(c.bin, full...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	a := curlAnswer{Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		a.Exit = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	a.Status, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	a.Header = readCurlHeaders(hdr)
	b, _ := os.ReadFile(body)
	a.Body = string(b)
	if m := csrfRE.FindStringSubmatch(a.Body); m != nil {
		c.csrf = m[1]
	}
	return a
}

// readCurlHeaders parses the last header block curl wrote (after a 100 Continue, the final one).
func readCurlHeaders(path string) http.Header {
	b, err := os.ReadFile(path)
	if err != nil {
		return http.Header{}
	}
	blocks := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n\n")
	last := ""
	for _, bl := range blocks {
		if strings.TrimSpace(bl) != "" {
			last = bl
		}
	}
	_, rest, _ := strings.Cut(last, "\n") // the status line
	h, _ := textproto.NewReader(bufio.NewReader(strings.NewReader(rest + "\n\n"))).ReadMIMEHeader()
	return http.Header(h)
}

// login signs in through the login form, as a browser would.
func (c *curl) login(user, pw string) *curl {
	c.t.Helper()
	c.do("/login")
	a := c.do("/login", "--data-urlencode", "username="+user, "--data-urlencode", "password="+pw, "--data-urlencode", "_csrf="+c.csrf)
	if a.Status != http.StatusSeeOther {
		c.t.Fatalf("curl login %s: %d %s", user, a.Status, a.Stderr)
	}
	c.do("/account")
	return c
}

var nonceRE = regexp.MustCompile(`'nonce-([A-Za-z0-9+/=]+)'`)
