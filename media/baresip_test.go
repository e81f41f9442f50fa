package media

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// startBaresip runs baresip as an auto-answering phone for user on 127.0.0.1:port, its
// microphone a 1 kHz sine (ausine).
func startBaresip(t *testing.T, user string, port int) *bytes.Buffer {
	t.Helper()
	bin := testtool.Need(t, "baresip", "baresip-core")
	dir := t.TempDir()
	rtpLo := freePort(t) &^ 1
	config := fmt.Sprintf(`poll_method		epoll
sip_listen		127.0.0.1:%d
audio_player		aufile,%s
audio_source		ausine,1000
audio_alert		aufile,/dev/null
ausrc_srate		48000
ausrc_channels		2
auplay_channels		1
auplay_srate		48000
rtp_ports		%d-%d
module_path		/usr/lib/baresip/modules
module			g711.so
module			ausine.so
module			aufile.so
module			account.so
module			menu.so
`, port, filepath.Join(dir, "heard.wav"), rtpLo, rtpLo+9)
	account := fmt.Sprintf("<sip:%s@127.0.0.1:%d>;regint=0;answermode=auto;audio_codecs=PCMA,PCMU\n", user, port)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-f", dir, "-t", "30")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("baresip:\n%s", out.String())
		}
	})
	time.Sleep(500 * time.Millisecond)
	return &out
}

// TestBaresipAsDestination: a sipp caller, the engine recording, baresip answering as a real
// phone; both voices in the file.
func TestBaresipAsDestination(t *testing.T) {
	testtool.Short(t)
	trunk := freePort(t)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, activePolicy(t, ModeAutomatic))}, trunk, nil)
	startBaresip(t, "4915258878874", trunk)
	pt, audio := codecFields("PCMU", "caller_440")
	caller := startSipp(t, "sipp_caller.xml", map[string]string{
		"PT": pt, "CODEC": "PCMU", "AUDIO": testdata(t, audio), "ACTIONS": "", "HOLD_MS": "5000", "FROM": "49711218431440",
	}, "-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", e.SIPAddr())
	if err := caller.wait(t, 40*time.Second); err != nil {
		t.Fatalf("sipp caller: %v", err)
	}
	c := e.sink.wait(t, 10*time.Second)
	if c.Outcome != OutcomeCompleted || c.Recording == nil {
		t.Fatalf("outcome %q recording %+v", c.Outcome, c.Recording)
	}
	ch, pcm := wavPCM(t, filepath.Join(e.data, filepath.FromSlash(c.Recording.Path)))
	length := time.Duration(len(pcm)/ch) * time.Second / 8000
	lr, _ := channelStats(pcm, ch, 0, 300*time.Millisecond, length-300*time.Millisecond)
	rr, rz := channelStats(pcm, ch, 1, 300*time.Millisecond, length-300*time.Millisecond)
	t.Logf("file %v: caller rms %.0f, baresip rms %.0f zcr %.0f; packets in %v out %v", length, lr, rr, rz, c.PacketsIn, c.PacketsOut)
	if lr < 1000 || rr < 300 {
		t.Fatalf("missing voice: caller %.0f baresip %.0f", lr, rr)
	}
}
