package media

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// TestCrashHelperProcess is the engine in a child process for TestKill9RecordingIsRepairable;
// it does nothing in a normal run.
func TestCrashHelperProcess(t *testing.T) {
	if os.Getenv("CALLREC_CRASH_HELPER") != "1" {
		t.Skip("helper process only")
	}
	trunk, _ := strconv.Atoi(os.Getenv("CALLREC_CRASH_TRUNK"))
	pol := activePolicy(t, ModeAutomatic)
	pol.CallerNotice = false
	var sink Sink = newRecSink()
	if os.Getenv("CALLREC_CRASH_REPORT") == "1" {
		sink = printSink{}
	}
	ports := [2]int{32000, 33999}
	if lo, err := strconv.Atoi(os.Getenv("CALLREC_CRASH_RTP_LO")); err == nil {
		ports = [2]int{lo, lo + 1999}
	}
	e, err := New(Config{SIPAddr: "127.0.0.1:0", Trunk: "127.0.0.1:" + strconv.Itoa(trunk),
		RTPPorts: ports, DataDir: os.Getenv("CALLREC_CRASH_DATA"),
		RTPGoroutines: os.Getenv("CALLREC_RTP_GOROUTINES") == "1"},
		memDir{"49711218431431": demoRoute(t, pol)}, sink)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("SIP %s\n", e.SIPAddr())
	ctx := context.Background()
	if prof := os.Getenv("CALLREC_CPUPROFILE"); prof != "" {
		// Profile the load run: CALLREC_CPUPROFILE=file, for CALLREC_PROFILE_SECONDS.
		secs, _ := strconv.Atoi(os.Getenv("CALLREC_PROFILE_SECONDS"))
		f, err := os.Create(prof)
		if err != nil {
			t.Fatal(err)
		}
		_ = pprof.StartCPUProfile(f)
		go func() {
			time.Sleep(time.Duration(secs) * time.Second)
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	_ = e.Run(ctx) // until killed
}

func TestKill9RecordingIsRepairable(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	data := t.TempDir()
	trunk := freePort(t)
	child := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$")
	child.Env = append(os.Environ(), "CALLREC_CRASH_HELPER=1", "CALLREC_CRASH_DATA="+data,
		"CALLREC_CRASH_TRUNK="+strconv.Itoa(trunk))
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "SIP ") {
		t.Fatalf("child said %q: %v", line, err)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, "SIP "))

	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"}, "-p", strconv.Itoa(trunk))
	time.Sleep(200 * time.Millisecond)
	caller := startSipp(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": "20000", "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", addr)
	defer caller.Kill()
	defer callee.Kill()

	var file string
	for deadline := time.Now().Add(15 * time.Second); file == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		m, _ := filepath.Glob(filepath.Join(data, "call_recording", "*", "*", "*.wav"))
		if len(m) == 1 {
			file = m[0]
		}
	}
	if file == "" {
		t.Fatal("no recording appeared")
	}
	time.Sleep(2500 * time.Millisecond)
	if err := child.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = child.Wait()

	rel, _ := filepath.Rel(data, file)
	d, size, err := Repair(data, filepath.ToSlash(rel))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("repaired %s: %v, %d bytes", rel, d, size)
	if d < 1500*time.Millisecond || d > 4*time.Second {
		t.Fatalf("repaired duration %v, want about 2.5 s", d)
	}
	soxReads(t, file)
	ch, pcm := wavPCM(t, file)
	if rms, _ := channelStats(pcm, ch, 0, 200*time.Millisecond, d-500*time.Millisecond); rms < 1000 {
		t.Fatalf("caller audio lost: rms %.0f", rms)
	}
}
