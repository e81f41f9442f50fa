// Package testtool lets tests use real external tools (sipp, sox, chromium, ...) when they are
// installed, and insists on them when CALLREC_E2E=1 (as .ci/run sets after installing them).
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// E2E reports whether end-to-end tests are required to run rather than skip.
func E2E() bool { return os.Getenv("CALLREC_E2E") == "1" }

// Need returns the path of bin. When bin is missing the test is skipped with a message naming the
// Debian package that provides it, or fails when CALLREC_E2E=1.
func Need(t testing.TB, bin, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err == nil {
		return p
	}
	msg := bin + " not found: install the Debian package " + debianPackage
	if E2E() {
		t.Fatal(msg + " (CALLREC_E2E=1 requires it)")
	}
	t.Skip(msg)
	return ""
}

// Short skips a slow end-to-end test under `go test -short` unless CALLREC_E2E=1.
func Short(t testing.TB) {
	t.Helper()
	if testing.Short() && !E2E() {
		t.Skip("end-to-end test skipped in -short mode")
	}
}
