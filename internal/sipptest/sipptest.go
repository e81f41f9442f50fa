// Package sipptest runs Debian's sip-tester (sipp) scenarios as real SIP peers in tests. The
// scenarios and audio live in media/testdata; their {{FIELDS}} are filled in per call.
package sipptest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// PcapDir holds sip-tester's own RTP event captures (dtmf_2833_*.pcap); playing them needs root.
const PcapDir = "/usr/share/sip-tester/"

// Testdata is the absolute path of a file in media/testdata.
func Testdata(name string) string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "media", "testdata", name)
}

// FreePort finds a port free for both UDP and TCP on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		u.Close()
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

var defaultField = regexp.MustCompile(`\{\{[A-Z_]+:-[^}]*\}\}`)

// Sipp is one running sipp process.
type Sipp struct {
	cmd     *exec.Cmd
	session bool // in a session of its own (StartSession)
	out     bytes.Buffer
	err     chan error
}

// Start runs scenario (a file name in media/testdata) with its fields filled in, plus args. One
// call (-m 1) unless args say otherwise.
func Start(t testing.TB, scenario string, fields map[string]string, args ...string) *Sipp {
	t.Helper()
	return start(t, false, scenario, fields, args...)
}

// StartSession is Start with sipp in a session of its own. Linux's scheduler (autogroup)
// shares the CPUs between sessions first and by nice value only within one, so a load
// generator that must not starve beside other work on the machine needs its own session
// before SetSessionNice can favour it.
func StartSession(t testing.TB, scenario string, fields map[string]string, args ...string) *Sipp {
	t.Helper()
	return start(t, true, scenario, fields, args...)
}

func start(t testing.TB, session bool, scenario string, fields map[string]string, args ...string) *Sipp {
	t.Helper()
	bin := testtool.Need(t, "sipp", "sip-tester")
	b, err := os.ReadFile(Testdata(scenario))
	if err != nil {
		t.Fatal(err)
	}
	x := string(b)
	for k, v := range fields {
		x = strings.ReplaceAll(x, "{{"+k+"}}", v)
	}
	// {{NAME:-default}}: a field with a default the caller may leave out.
	x = defaultField.ReplaceAllStringFunc(x, func(m string) string {
		name, def, _ := strings.Cut(m[2:len(m)-2], ":-")
		if v, ok := fields[name]; ok {
			return v
		}
		return def
	})
	if i := strings.Index(x, "{{"); i >= 0 {
		t.Fatalf("unfilled field in %s: %.20s", scenario, x[i:])
	}
	dir := t.TempDir()
	sf := filepath.Join(dir, scenario)
	if err := os.WriteFile(sf, []byte(x), 0o644); err != nil {
		t.Fatal(err)
	}
	all := []string{"-sf", sf, "-i", "127.0.0.1", "-mi", "127.0.0.1",
		"-mp", strconv.Itoa(FreePort(t)), "-nostdin", "-timeout", "60s", "-timeout_error", "-trace_err"}
	if !slices.Contains(args, "-m") {
		all = append(all, "-m", "1")
	}
	all = append(all, args...)
	s := &Sipp{cmd: exec.Command(bin, all...), err: make(chan error, 1)}
	s.cmd.Dir = dir
	s.cmd.Stdout = &s.out
	s.cmd.Stderr = &s.out
	if s.session = session; session {
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err <- s.cmd.Wait() }()
	t.Cleanup(func() { _ = s.cmd.Process.Kill() })
	return s
}

// SetSessionNice sets the nice value of the scheduling group (autogroup) of a sipp started
// by StartSession: its weight against the machine's other sessions. Negative values need
// root.
func (s *Sipp) SetSessionNice(nice int) error {
	if !s.session {
		return errors.New("sipp shares the test's session: SetSessionNice would favour the test")
	}
	return os.WriteFile(fmt.Sprintf("/proc/%d/autogroup", s.Pid()), []byte(strconv.Itoa(nice)), 0)
}

// Messages is sipp's message trace (when started with -trace_msg).
func (s *Sipp) Messages() string {
	logs, _ := filepath.Glob(filepath.Join(s.cmd.Dir, "*_messages.log"))
	var b strings.Builder
	for _, l := range logs {
		m, _ := os.ReadFile(l)
		b.Write(m)
	}
	return b.String()
}

// Output is what sipp printed so far.
func (s *Sipp) Output() string { return s.out.String() }

// Pid is the sipp process's id.
func (s *Sipp) Pid() int { return s.cmd.Process.Pid }

// Dir is sipp's working folder, where its -trace_* files go.
func (s *Sipp) Dir() string { return s.cmd.Dir }

// Kill ends sipp at once.
func (s *Sipp) Kill() { _ = s.cmd.Process.Kill() }

// Wait waits for sipp to finish; on failure its error log is logged.
func (s *Sipp) Wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case err := <-s.err:
		if err != nil {
			logs, _ := filepath.Glob(filepath.Join(s.cmd.Dir, "*errors.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				if len(b) > 3000 {
					b = b[len(b)-3000:]
				}
				t.Logf("%s:\n%s", filepath.Base(l), b)
			}
		}
		return err
	case <-time.After(d):
		_ = s.cmd.Process.Kill()
		return errors.New("sipp timed out")
	}
}

// PlayPcap is a scenario action that plays one of sip-tester's RTP event captures after a pause.
func PlayPcap(name string, afterMS int) string {
	return fmt.Sprintf(`<pause milliseconds="%d"/><nop><action><exec play_pcap_audio="%s%s"/></action></nop>`, afterMS, PcapDir, name)
}

// Call describes one call from a sipp caller through the engine to a sipp callee.
type Call struct {
	From, Dialed   string
	CallerCodec    string // PCMU (default) or PCMA
	CalleeCodec    string
	CallerActions  string // scenario XML after the answer, e.g. PlayPcap("dtmf_2833_star.pcap", 500)
	CalleeActions  string
	HoldMS, RingMS int // caller hangs up after HoldMS; callee rings RingMS before answering
}

func codec(c, tone string) (pt, audio, name string) {
	if c == "PCMA" {
		return "8", Testdata(tone + ".alaw"), "PCMA"
	}
	return "0", Testdata(tone + ".ulaw"), "PCMU"
}

// Run places c: a callee listening on trunkPort, a caller sending to engineAddr. It returns when
// both have finished.
func Run(t testing.TB, engineAddr string, trunkPort int, c Call) (callerErr, calleeErr error) {
	t.Helper()
	pt, audio, name := codec(c.CalleeCodec, "callee_1000")
	callee := Start(t, "sipp_callee.xml", map[string]string{
		"PT": pt, "CODEC": name, "AUDIO": audio, "ACTIONS": c.CalleeActions, "RING_MS": strconv.Itoa(c.RingMS),
	}, "-p", strconv.Itoa(trunkPort))
	time.Sleep(200 * time.Millisecond) // let the callee bind before the INVITE reaches it
	pt, audio, name = codec(c.CallerCodec, "caller_440")
	caller := Start(t, "sipp_caller.xml", map[string]string{
		"PT": pt, "CODEC": name, "AUDIO": audio, "ACTIONS": c.CallerActions,
		"HOLD_MS": strconv.Itoa(c.HoldMS), "FROM": c.From,
	}, "-p", strconv.Itoa(FreePort(t)), "-s", c.Dialed, engineAddr)
	callerErr = caller.Wait(t, 90*time.Second)
	calleeErr = callee.Wait(t, 30*time.Second)
	return callerErr, calleeErr
}
