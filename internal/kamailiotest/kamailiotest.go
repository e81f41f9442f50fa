// Package kamailiotest runs a real Kamailio (Debian's kamailio 5.6) with the shipped
// deploy/kamailio/kamailio.cfg in tests: a dispatcher.list written for the test's nodes and
// carrier, a free port on the address asked for, a control socket in the test's folder (for
// kamcmd), logs kept to show when a test fails.
package kamailiotest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// Config is what the proxy is started with.
type Config struct {
	// IP is the address Kamailio listens on (UDP); default 127.0.0.1. The port is a free one.
	IP string
	// Nodes are the callrec nodes' SIP addresses (host:port), dispatcher group 1, probed.
	Nodes []string
	// Carriers are the carrier's addresses (host:port), dispatcher group 2: calls are taken
	// from them, destination legs go to them.
	Carriers []string
	// MaxLoad is each node's maxload (0: none).
	MaxLoad int
	// File is the configuration to run instead of the shipped one (a test's own, in its
	// testdata); it gets the same -A defines.
	File string
	// Defines are more -A defines (name to value as the configuration reads it: a string
	// define needs its quotes).
	Defines map[string]string
}

// Proxy is a running Kamailio.
type Proxy struct {
	Addr string // host:port it listens on (UDP)
	ctl  string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  bytes.Buffer
}

// Config is the shipped configuration file.
func ConfigFile() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "deploy", "kamailio", "kamailio.cfg")
}

// Bin finds kamailio (in /usr/sbin, which a user's PATH may lack); without it the test is
// skipped naming the Debian package, or fails when CALLREC_E2E=1.
func Bin(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/kamailio", "/usr/local/sbin/kamailio"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return testtool.Need(t, "kamailio", "kamailio")
}

// Start runs Kamailio for t; it is stopped when t ends.
func Start(t testing.TB, cfg Config) *Proxy {
	t.Helper()
	bin := Bin(t)
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	dir := t.TempDir()
	var list strings.Builder
	for i, n := range cfg.Nodes {
		attrs := "duid=node" + strconv.Itoa(i+1)
		if cfg.MaxLoad > 0 {
			attrs += ";maxload=" + strconv.Itoa(cfg.MaxLoad)
		}
		fmt.Fprintf(&list, "1 sip:%s 8 0 %s\n", n, attrs)
	}
	for _, c := range cfg.Carriers {
		fmt.Fprintf(&list, "2 sip:%s 0 0\n", c)
	}
	listFile := filepath.Join(dir, "dispatcher.list")
	if err := os.WriteFile(listFile, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &Proxy{dir: dir, ctl: "unix:" + filepath.Join(dir, "ctl.sock"), done: make(chan struct{})}
	port := FreeUDPPort(t, cfg.IP)
	p.Addr = net.JoinHostPort(cfg.IP, strconv.Itoa(port))
	// -DD: stay in the foreground (children forked); -E: log to stderr; -Y: runtime files here.
	file := cfg.File
	if file == "" {
		file = ConfigFile()
	}
	args := []string{"-DD", "-E", "-f", file, "-Y", dir, "-l", "udp:" + p.Addr,
		"-A", `DISPATCHER_LIST="` + listFile + `"`, "-A", `CTL_SOCKET="` + p.ctl + `"`, "-m", "64", "-M", "8"}
	for k, v := range cfg.Defines {
		args = append(args, "-A", k+"="+v)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	// A test binary killed before its cleanup takes the proxy with it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("kamailio log (tail):\n%s", tail(p.Log(), 6000))
		}
	})
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := p.RPC("core.uptime"); err == nil {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("kamailio exited at start:\n%s", tail(p.Log(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio not answering its control socket after 15 s:\n%s", tail(p.Log(), 4000))
		}
	}
}

// Write collects Kamailio's output.
func (p *Proxy) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

// Log is what Kamailio logged so far.
func (p *Proxy) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Stop ends Kamailio (SIGTERM, then SIGKILL after 5 s).
func (p *Proxy) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// RPC runs one kamcmd command on the proxy's control socket and returns its output.
func (p *Proxy) RPC(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kamcmd := "/usr/sbin/kamcmd"
	if _, err := os.Stat(kamcmd); err != nil {
		kamcmd = "kamcmd"
	}
	out, err := exec.CommandContext(ctx, kamcmd, append([]string{"-s", p.ctl}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kamcmd %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Dest is one dispatcher destination as `dispatcher.list` shows it.
type Dest struct {
	URI   string // sip:host:port
	Flags string // first letter: A active, I inactive, T trying, D disabled; P: probing
}

// Active reports whether the dispatcher would send calls to d.
func (d Dest) Active() bool { return strings.HasPrefix(d.Flags, "A") }

// Destinations lists the dispatcher's destinations with their state.
func (p *Proxy) Destinations() ([]Dest, error) {
	out, err := p.RPC("dispatcher.list")
	if err != nil {
		return nil, err
	}
	var ds []Dest
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "URI:" {
			ds = append(ds, Dest{URI: f[1]})
		}
		if len(f) == 2 && f[0] == "FLAGS:" && len(ds) > 0 {
			ds[len(ds)-1].Flags = f[1]
		}
	}
	return ds, nil
}

// Node is the destination of the node at addr (host:port).
func (p *Proxy) Node(addr string) (Dest, bool) {
	ds, err := p.Destinations()
	if err != nil {
		return Dest{}, false
	}
	for _, d := range ds {
		if d.URI == "sip:"+addr {
			return d, true
		}
	}
	return Dest{}, false
}

// FreeUDPPort finds a port free for UDP and TCP on ip.
func FreeUDPPort(t testing.TB, ip string) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			t.Fatalf("no UDP on %s: %v", ip, err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
