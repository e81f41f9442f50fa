package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"callrec/internal/sipptest"
	"callrec/internal/testtool"
)

// sipOptions sends OPTIONS from a socket of its own and returns the final answer's code (0: none).
func sipOptions(t *testing.T, addr string) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	me := c.LocalAddr().String()
	msg := "OPTIONS sip:ping@" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + me + ";branch=z9hG4bK-drain" + strconv.FormatInt(time.Now().UnixNano(), 36) +
		"\r\nMax-Forwards: 70\r\nFrom: <sip:probe@" + me + ">;tag=p1\r\nTo: <sip:ping@" + addr + ">\r\nCall-ID: drain-" +
		strconv.FormatInt(time.Now().UnixNano(), 36) + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	to, _ := net.ResolveUDPAddr("udp", addr)
	if _, err := c.WriteToUDP([]byte(msg), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(buf[:n]))
	if len(f) < 2 {
		return 0
	}
	code, _ := strconv.Atoi(f[1])
	return code
}

// TestSIGTERMDrains: SIGTERM to serve while a recorded call runs. OPTIONS answers 503 from then
// on (a dispatcher stops sending calls), the call goes on to its normal end with its recording,
// and the process exits by itself soon after the last call ended.
func TestSIGTERMDrains(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	data := t.TempDir()
	trunk := sipptest.FreePort(t)
	httpAddr := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	sipAddr := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	args := []string{"serve", "--demo", "--data", data, "--http", httpAddr, "--sip", sipAddr,
		"--trunk", "127.0.0.1:" + strconv.Itoa(trunk), "--rtp-ports", "46000-46999", "--log-level", "info"}
	var out syncBuffer
	child := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	child.Env = append(os.Environ(), "CALLREC_SERVE_HELPER=1", "CALLREC_SERVE_ARGS="+strings.Join(args, "\t"),
		"CALLREC_ADMIN_PASSWORD=platform-admin-pw")
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	t.Cleanup(func() { _ = child.Process.Kill(); <-exited })
	waitHealthy(t, httpAddr, nil)
	p := &product{t: t, data: data, http: httpAddr}
	tok := p.token("demo-admin")
	p.bookDemoPool(tok)
	if code := sipOptions(t, sipAddr); code != 200 {
		t.Fatalf("OPTIONS before the drain: %d", code)
	}

	callee := sipptest.Start(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	caller := sipptest.Start(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "6000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(sipptest.FreePort(t)), "-s", "49711218431431", sipAddr)
	var calls struct {
		Calls []struct {
			State string `json:"state"`
		} `json:"calls"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if p.api(tok, "GET", "/calls?state=active", nil, &calls); len(calls.Calls) == 1 && calls.Calls[0].State == "connected" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connected call\n%s", out.String())
		}
	}

	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); sipOptions(t, sipAddr) != 503; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("OPTIONS not 503 after SIGTERM\n%s", out.String())
		}
	}
	select {
	case err := <-exited:
		t.Fatalf("serve exited with a call running: %v\n%s", err, out.String())
		exited <- err
	default:
	}
	if err := caller.Wait(t, 30*time.Second); err != nil {
		t.Fatalf("the call ended abnormally during the drain: %v\n%s", err, out.String())
	}
	ended := time.Now()
	_ = callee.Wait(t, 10*time.Second)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve after the drain: %v\n%s", err, out.String())
		}
		exited <- err
		t.Logf("exited %s after the last call ended", time.Since(ended).Round(10*time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatalf("serve still running 15 s after its last call ended\n%s", out.String())
	}
	if !bytes.Contains([]byte(out.String()), []byte("drained: no calls left")) {
		t.Errorf("no drain in the log:\n%s", out.String())
	}
}
