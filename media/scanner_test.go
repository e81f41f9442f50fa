package media

import (
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// TestSIPScannerLearnsNeitherNameNorNumbers runs sipvicious (Debian sipvicious) against the
// engine as an attacker would: svmap finds a SIP device but not what software it is, and svwar
// cannot tell a pool number from any other: from an untrusted address with any method (all get
// 403), and from a trusted one with the methods that place no call.
//
// svwar 0.3 ignores -b and sends from 127.0.0.1, so the engine listens on 127.0.0.2 and trusts
// only 127.0.0.3 for the untrusted scans, and 127.0.0.1 for the trusted ones.
func TestSIPScannerLearnsNeitherNameNorNumbers(t *testing.T) {
	testtool.Short(t)
	svmap := testtool.Need(t, "svmap", "sipvicious")
	svwar := testtool.Need(t, "svwar", "sipvicious")
	udpOn(t, "127.0.0.2").Close() // the engine's address must exist
	home := t.TempDir()
	run := func(bin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(cmd.Environ(), "HOME="+home)
		done := make(chan struct{})
		var out []byte
		go func() { out, _ = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("%s %v did not finish", bin, args)
		}
		t.Logf("%s %s:\n%s", bin, strings.Join(args, " "), out)
		return string(out)
	}
	nameless := func(out string) {
		t.Helper()
		low := strings.ToLower(out)
		for _, name := range []string{"callrec", "sipgo", "emiago"} {
			if strings.Contains(low, name) {
				t.Errorf("the scanner learned the software's name (%s)", name)
			}
		}
	}
	const first, last = 49711218431425, 49711218431445
	pool := map[int]bool{49711218431431: true, 49711218431435: true}
	// foundOnlyPool reports a scan that singled pool numbers out: it names one, but not every
	// number of the range.
	singledOut := func(out string) bool {
		found := map[int]bool{}
		for _, f := range strings.Fields(out) {
			if n, err := strconv.Atoi(strings.Trim(f, "'|")); err == nil && n >= first && n <= last {
				found[n] = true
			}
		}
		for p := range pool {
			if found[p] && len(found) < last-first+1 {
				return true
			}
		}
		return false
	}
	for _, phase := range []struct {
		trusted string
		methods []string
	}{
		{"127.0.0.3/32", []string{"REGISTER", "INVITE", "OPTIONS"}}, // the scanner (127.0.0.1) is a stranger
		{"127.0.0.1/32", []string{"REGISTER", "OPTIONS"}},           // the scanner is trusted
	} {
		trunkPort := freePort(t)
		startRingingTrunk(t, trunkPort, "")
		r := demoRoute(t, Policy{})
		e := startEngine(t, memDir{"49711218431431": r, "49711218431435": r}, trunkPort, func(c *Config) {
			c.SIPAddr = "127.0.0.2:0"
			c.SIPTrusted = []netip.Prefix{netip.MustParsePrefix(phase.trusted)}
		})
		host, port, _ := strings.Cut(e.SIPAddr(), ":")
		out := run(svmap, "-b", "127.0.0.1", "-p", port, host)
		if !strings.Contains(out, host+":"+port) {
			t.Errorf("svmap did not even see the device; the test proves nothing")
		}
		nameless(out)
		for _, m := range phase.methods {
			out := run(svwar, "-p", port, "-m", m, "-e", strconv.Itoa(first)+"-"+strconv.Itoa(last), "--force", host)
			nameless(out)
			if singledOut(out) {
				t.Errorf("svwar -m %s, trusting %s: pool numbers told apart from the others", m, phase.trusted)
			}
		}
		if n := len(e.Calls()); n != 0 {
			t.Errorf("the scans placed %d calls", n)
		}
		e.stop()
	}
}
