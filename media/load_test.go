package media

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/testtool"
)

// procCPU is a process's user+system CPU time and resident memory, from /proc.
func procCPU(t *testing.T, pid int) (time.Duration, int64) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, rss * int64(os.Getpagesize())
}

// TestLoad drives N concurrent recorded calls (CALLREC_LOAD=N, CALLREC_LOAD_SECONDS=length)
// through the engine in a child process and reports CPU per call-second and memory per call.
// A first measurement for the load issue; it does not run by default.
func TestLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CALLREC_LOAD"))
	if n <= 0 {
		t.Skip("set CALLREC_LOAD=N to run")
	}
	secs, _ := strconv.Atoi(os.Getenv("CALLREC_LOAD_SECONDS"))
	if secs <= 0 {
		secs = 20
	}
	testtool.Need(t, "sipp", "sip-tester")
	data := t.TempDir()
	trunk := freePort(t)
	child := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$")
	child.Env = append(os.Environ(), "CALLREC_CRASH_HELPER=1", "CALLREC_CRASH_DATA="+data,
		"CALLREC_CRASH_TRUNK="+strconv.Itoa(trunk))
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	addr := strings.TrimSpace(strings.TrimPrefix(line, "SIP "))
	cpu0, rss0 := procCPU(t, child.Process.Pid)

	max := strconv.Itoa(n)
	callee := startSipp(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"},
		"-p", strconv.Itoa(trunk), "-m", max, "-l", max)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	caller := startSipp(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": testdata(t, "caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": strconv.Itoa(secs * 1000), "FROM": "49711218431440"},
		"-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", "-m", max, "-l", max, "-r", "50", addr)
	time.Sleep(time.Duration(secs)*time.Second/2 + time.Duration(n)*time.Second/50)
	_, rssMid := procCPU(t, child.Process.Pid)
	if err := caller.wait(t, time.Duration(secs+120)*time.Second); err != nil {
		t.Errorf("sipp caller: %v", err)
	}
	_ = callee.wait(t, 30*time.Second)
	time.Sleep(time.Second)
	cpu1, _ := procCPU(t, child.Process.Pid)
	wall := time.Since(start)
	files, _ := filepath.Glob(filepath.Join(data, "call_recording", "*", "*", "*.wav"))
	callSeconds := float64(n * secs)
	t.Logf("N=%d length=%ds wall=%v files=%d engine CPU %v: %.3f ms per call-second; RSS %d MB at mid-run (%d KB per call over idle %d MB)",
		n, secs, wall.Round(time.Second), len(files), cpu1-cpu0, float64((cpu1-cpu0).Milliseconds())/callSeconds,
		rssMid>>20, (rssMid-rss0)/int64(n)>>10, rss0>>20)
}
