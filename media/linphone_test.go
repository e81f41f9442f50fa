package media

// Debian's linphone-cli (linphonec) as the caller's softphone: a real phone's SIP and RTP
// stack (belle-sip, oRTP), calling in over UDP and over TLS with SRTP.

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// linphone is one linphonec process driven through its standard input.
type linphone struct {
	in  io.WriteCloser
	mu  sync.Mutex
	out bytes.Buffer
	dir string
}

func (l *linphone) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.Write(p)
}

func (l *linphone) output() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.String()
}

// cmd types one console command.
func (l *linphone) cmd(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(l.in, line+"\n"); err != nil {
		t.Fatalf("linphonec %q: %v", line, err)
	}
}

// waitFor waits until linphonec has printed s.
func (l *linphone) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(l.output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("linphonec did not print %q:\n%s\nlog:\n%s", s, l.output(), l.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// log is the tail of linphone's own log (level 6), for failure messages.
func (l *linphone) log() string {
	b, _ := os.ReadFile(filepath.Join(l.dir, "linphone.log"))
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// startLinphone runs linphonec as a phone on 127.0.0.1 with sip and rtp lines added to its
// configuration (its ports, transports, TLS and SRTP settings). Its microphone is a WAV file
// of a 440 Hz tone (sox), its speaker a file.
func startLinphone(t *testing.T, sipSection, rtpSection string) *linphone {
	t.Helper()
	bin := testtool.Need(t, "linphonec", "linphone-cli")
	sox := testtool.Need(t, "sox", "sox")
	dir := t.TempDir()
	// liblinphone opens its database under $HOME/.local/share/linphone and starts no SIP
	// transport at all when it cannot.
	if err := os.MkdirAll(filepath.Join(dir, ".local", "share", "linphone"), 0o755); err != nil {
		t.Fatal(err)
	}
	tone := filepath.Join(dir, "tone.wav")
	if out, err := exec.Command(sox, "-n", "-r", "8000", "-b", "16", "-c", "1", tone, "synth", "30", "sine", "440", "vol", "0.5").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	// Without ipv6_migration_done liblinphone turns use_ipv6 on at start and puts its IPv6
	// address into the SDP.
	rc := fmt.Sprintf(`[sip]
ipv6_migration_done=1
use_ipv6=0
guess_hostname=0
contact="caller" <sip:49711218431440@127.0.0.1>
inc_timeout=30
%s
[rtp]
%s
[net]
firewall_policy=0
[sound]
echocancellation=0
[misc]
max_calls=1
`, sipSection, rtpSection)
	if err := os.WriteFile(filepath.Join(dir, "linphonerc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "linphonerc"), "-d", "6", "-l", filepath.Join(dir, "linphone.log"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	l := &linphone{dir: dir}
	cmd.Stdout, cmd.Stderr = l, l
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	l.in = in
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("linphonec:\n%s", l.output())
		}
	})
	l.waitFor(t, "linphonec>", 10*time.Second)
	l.cmd(t, "soundcard use files")
	l.cmd(t, "play "+tone)
	l.cmd(t, "record "+filepath.Join(dir, "heard.wav"))
	return l
}

// linphoneCall has linphonec call uri through e, talk for ms and hang up; the destination is
// sipp on trunk. It returns the call as the engine reported it and linphone's loudness of what
// it heard (sox's RMS amplitude of its speaker file, 0..1).
func linphoneCall(t *testing.T, e *testEngine, trunk int, uri, sipSection string, ms int) (CallInfo, float64) {
	t.Helper()
	return linphoneCallWith(t, e, trunk, plainCallee(""), uri, sipSection, "", func(l *linphone) {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	})
}

// linphoneCallWith is linphoneCall with the destination's scenario, more [rtp] settings and
// what linphone does while connected.
func linphoneCallWith(t *testing.T, e *testEngine, trunk int, calleeBody, uri, sipSection, rtpSection string, talk func(*linphone)) (CallInfo, float64) {
	t.Helper()
	callee := calleeScript(t, trunk, calleeBody)
	l := startLinphone(t, sipSection, fmt.Sprintf("audio_rtp_port=%d\n%s", freePort(t)&^1, rtpSection))
	l.cmd(t, "call "+uri)
	l.waitFor(t, "connected", 15*time.Second)
	talk(l)
	l.cmd(t, "terminate")
	l.waitFor(t, "ended", 10*time.Second)
	if err := callee.wait(t, 20*time.Second); err != nil {
		t.Fatalf("callee: %v\n%s", err, callee.Output())
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted {
		t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
	}
	sox := testtool.Need(t, "sox", "sox")
	out, err := exec.Command(sox, filepath.Join(l.dir, "heard.wav"), "-n", "stat").CombinedOutput()
	m := regexp.MustCompile(`RMS\s+amplitude:\s+([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("linphone's speaker file: %v %s", err, out)
	}
	heard, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("packets in %v out %v, foreign %v, RTCP in %v out %v, SRTP %v failed %v; linphone heard RMS %.3f",
		c.PacketsIn, c.PacketsOut, c.RTPForeign, c.RTCPIn, c.RTCPOut, c.SRTP, c.SRTPFailed, heard)
	return c, heard
}

// checkLinphoneCall: both voices recorded for the connected time, linphone heard the
// destination, none of its packets refused, its RTCP taken and ours sent to it.
func checkLinphoneCall(t *testing.T, e *testEngine, c CallInfo, heard float64) {
	t.Helper()
	bothVoices(t, e, c, 500*time.Millisecond, -300*time.Millisecond)
	if heard < 0.05 {
		t.Errorf("linphone heard RMS %.3f: not the destination's tone", heard)
	}
	if c.RTPForeign[0] != 0 {
		t.Errorf("%d of linphone's packets refused as foreign", c.RTPForeign[0])
	}
	if c.RTCPIn[0] == 0 || c.RTCPOut[0] == 0 {
		t.Errorf("RTCP with linphone: in %d, out %d", c.RTCPIn[0], c.RTCPOut[0])
	}
}

// TestLinphoneCallsInOverUDP: linphonec calls the engine over UDP. Its SDP names the host's
// interface address (192.0.2.x here, IPv4 only: see startLinphone) while its packets come
// from 127.0.0.1, and it sends STUN binding requests to both of our ports before its first
// RTP packet; the engine latches it by the signalling's host (RTP and RTCP alike) and counts
// nothing as foreign.
func TestLinphoneCallsInOverUDP(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, nil)
	c, heard := linphoneCall(t, e, trunk, "sip:49711218431431@"+e.SIPAddr(),
		fmt.Sprintf("sip_port=%d\nsip_tcp_port=0\nsip_tls_port=0", freePort(t)), 6000)
	checkLinphoneCall(t, e, c, heard)
}

// TestLinphoneRTCPMux: linphonec offers RTCP on the RTP port (rtcp_mux, RFC 5761); the engine
// answers a=rtcp-mux and takes and sends RTCP there (the RTCP port above stays unused).
func TestLinphoneRTCPMux(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, nil)
	var answer string
	c, heard := linphoneCallWith(t, e, trunk, plainCallee(""), "sip:49711218431431@"+e.SIPAddr(),
		fmt.Sprintf("sip_port=%d\nsip_tcp_port=0\nsip_tls_port=0", freePort(t)), "rtcp_mux=1", func(l *linphone) {
			time.Sleep(6 * time.Second)
			b, _ := os.ReadFile(filepath.Join(l.dir, "linphone.log"))
			answer = string(b)
		})
	checkLinphoneCall(t, e, c, heard)
	// linphone logs the messages it gets: our 200's SDP must say a=rtcp-mux.
	if !regexp.MustCompile(`SIP/2\.0 200 OK\r?\n(?:[^\n]*\n){0,40}?a=rtcp-mux`).MatchString(answer) {
		t.Fatal("our 200 OK to linphone has no a=rtcp-mux")
	}
}

// TestLinphoneCallsInOverTLSWithSRTP: linphonec calls --sip-tls, checking the engine's
// certificate, with SRTP mandatory (SDES, RTP/SAVP); the engine answers SRTP, decrypts both
// ways and records both voices.
func TestLinphoneCallsInOverTLSWithSRTP(t *testing.T) {
	testtool.Short(t)
	dir := t.TempDir()
	certFile, _ := selfSigned(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, certFile)
	if err != nil {
		t.Fatal(err)
	}
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, func(c *Config) {
		c.SIPTLSAddr = "127.0.0.1:0"
		c.SIPTLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	c, heard := linphoneCall(t, e, trunk, "sip:49711218431431@"+e.SIPTLSAddr()+";transport=tls",
		fmt.Sprintf("sip_port=0\nsip_tcp_port=0\nsip_tls_port=%d\nroot_ca=%s\nverify_server_certs=1\nverify_server_cn=1\n"+
			"media_encryption=srtp\nmedia_encryption_mandatory=1\nsrtp_crypto_suites=AES_CM_128_HMAC_SHA1_80", freePort(t), certFile), 6000)
	if !c.SRTP[0] || c.SRTPFailed[0] != 0 {
		t.Fatalf("caller leg SRTP %v, failed %v", c.SRTP, c.SRTPFailed)
	}
	checkLinphoneCall(t, e, c, heard)
}

// TestLinphoneHoldAndResume: linphonec puts the call on hold and resumes it (its console's
// pause and resume: re-INVITEs); the engine relays both to the destination, the trail notes
// them, and the destination is silent in the recording while held.
func TestLinphoneHoldAndResume(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, recordedRoute(t), trunk, nil)
	c, heard := linphoneCallWith(t, e, trunk, holdCallee("a=sendonly"), "sip:49711218431431@"+e.SIPAddr(),
		fmt.Sprintf("sip_port=%d\nsip_tcp_port=0\nsip_tls_port=0", freePort(t)), "", func(l *linphone) {
			time.Sleep(2 * time.Second)
			l.cmd(t, "pause")
			l.waitFor(t, "paused", 10*time.Second)
			time.Sleep(2 * time.Second)
			l.cmd(t, "resume 1") // its console says nothing when the call runs again
			time.Sleep(3 * time.Second)
		})
	t.Logf("trail %+v; linphone heard %.3f", c.Events, heard)
	checkHold(t, e, c)
}
