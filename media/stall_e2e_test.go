package media

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"callrec/internal/sipptest"
	"callrec/internal/testtool"
)

// printSink is the helper engine's Sink when the parent wants every ended call: one line
// "ENDED {json}" on stdout each.
type printSink struct{}

var printMu sync.Mutex

func (printSink) CallChanged(context.Context, CallInfo) {}

func (printSink) CallEnded(_ context.Context, c CallInfo) {
	b, _ := json.Marshal(c)
	printMu.Lock()
	fmt.Printf("ENDED %s\n", b)
	printMu.Unlock()
}

// faultLoad is a load of recorded calls through an engine in a child process, with a fault
// beside it, checked afterwards by cmd/benchcheck (the load benchmark's checker): every file
// the connected length within 40 ms, no silence run over 60 ms in either channel (both
// inputs are a never-silent speech-like signal), channels aligned.
type faultLoad struct {
	calls int
	hold  time.Duration // connected time per call
	stop  time.Duration // SIGSTOP the engine this long once every call is connected
	burn  int           // busy-loop processes beside the engine for the whole run
	// silenceIsInfo: silence and alignment only logged; the files' lengths and the engine's
	// own counter (no audio committed as silence before it came) still checked. Under CPU
	// starvation the load generator on the same CPUs pauses too, without a trace in its RTP
	// timestamps, so a short silence there says nothing about the engine.
	silenceIsInfo bool
	env           []string // more environment for the engine
	wantStall     bool     // the engine must report a stalled file ("STALL path")
}

// maxSkip is how much audio a sender may skip (RTP timestamps that jump) before its channel
// counts as not continuous; one packet is sipp's rounding when it resumes.
const maxSkip = 20 * time.Millisecond

// maxSilence is benchcheck's limit for a silence run.
const maxSilence = 60 * time.Millisecond

func runFaultLoad(t *testing.T, fl faultLoad) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	work := t.TempDir()
	data := filepath.Join(work, "data")
	checker := filepath.Join(work, "benchcheck")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(gobin, "build", "-o", checker, "callrec/cmd/benchcheck").CombinedOutput(); err != nil {
		t.Fatalf("building benchcheck: %v\n%s", err, out)
	}
	audio := map[string]string{}
	for i, side := range []string{"caller", "callee"} {
		audio[side] = filepath.Join(work, side+".ulaw")
		if out, err := exec.Command(checker, "speech", audio[side], "10", strconv.Itoa(i+1)).CombinedOutput(); err != nil {
			t.Fatalf("benchcheck speech: %v\n%s", err, out)
		}
	}

	var burners []int
	for range fl.burn {
		// A busy loop at the same priority: the CPU starvation of a noisy neighbour.
		burner := exec.Command("sh", "-c", "while :; do :; done")
		if err := burner.Start(); err != nil {
			t.Fatal(err)
		}
		burners = append(burners, burner.Process.Pid)
		t.Cleanup(func() { _ = burner.Process.Kill(); _ = burner.Wait() })
	}

	trunk := freePort(t)
	child := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$")
	child.Env = append(append(os.Environ(), "CALLREC_CRASH_HELPER=1", "CALLREC_CRASH_DATA="+data,
		"CALLREC_CRASH_TRUNK="+strconv.Itoa(trunk), "CALLREC_CRASH_REPORT=1", "CALLREC_CRASH_RTP_LO="+strconv.Itoa(freeRange(t, 2000))), fl.env...)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Signal(syscall.SIGCONT); _ = child.Process.Kill(); _ = child.Wait() })
	engine := startStarvation(child.Process.Pid)
	for _, pid := range burners {
		engine.watch(pid)
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "SIP ") {
		t.Fatalf("child said %q", lines.Text())
	}
	addr := strings.TrimPrefix(lines.Text(), "SIP ")
	endedc := make(chan CallInfo, fl.calls+16)
	stalled := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if p, ok := strings.CutPrefix(lines.Text(), "STALL "); ok {
				stalled <- p
			}
			if js, ok := strings.CutPrefix(lines.Text(), "ENDED "); ok {
				var c CallInfo
				if json.Unmarshal([]byte(js), &c) == nil {
					endedc <- c
				}
			}
		}
	}()

	// The whisper (played to the callee before the bridge) lengthens each caller's call.
	whisper := 2 * time.Second
	n := strconv.Itoa(fl.calls)
	rate := 50
	callee := sipptest.StartSession(t, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": audio["callee"], "ACTIONS": "", "RING_MS": "100"},
		"-p", strconv.Itoa(trunk), "-mp", strconv.Itoa(freeRange(t, 4*fl.calls)), "-m", n)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	caller := sipptest.StartSession(t, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": audio["caller"], "ACTIONS": "", "FROM": "49711218431440",
		"HOLD_MS": strconv.Itoa(int((fl.hold + whisper).Milliseconds()))},
		"-p", strconv.Itoa(freePort(t)), "-mp", strconv.Itoa(freeRange(t, 4*fl.calls)), "-s", "49711218431431", "-m", n, "-l", n,
		"-r", strconv.Itoa(rate), addr)
	// The load generator must not be what starves: a sipp that falls behind sends late, in
	// bursts, or skips audio, and that silence is in its input, not the engine's fault. The
	// engine keeps the busy loops' priority (this test's session); each sipp has a session of
	// its own, favoured against the machine's other sessions as well as within its own.
	engine.watch(caller.Pid())
	engine.watch(callee.Pid())
	for _, s := range []*sipptest.Sipp{caller, callee} {
		if err := s.SetSessionNice(-10); err != nil {
			needRoot(t, "cannot raise sipp's session priority: %v", err)
		}
	}
	favour := func() {
		for _, s := range []*sipptest.Sipp{caller, callee} {
			if err := raisePriority(s.Pid(), -10); err != nil {
				needRoot(t, "cannot raise sipp's priority: %v", err)
			}
		}
	}
	favour()
	setup := time.Duration(fl.calls/rate)*time.Second + whisper + time.Second
	time.AfterFunc(setup, favour) // threads sipp started meanwhile
	if fl.stop > 0 {
		time.Sleep(setup + (fl.hold-setup)/3)
		t.Logf("SIGSTOP for %v, %v after the first call", fl.stop, time.Since(start).Round(time.Millisecond))
		if err := child.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(fl.stop)
		if err := child.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	wait := fl.hold + setup + 60*time.Second
	// sipp's failures are judged after the engine's counters: when the engine was starved
	// beyond its buffers the run is inconclusive, and sipp on the same CPUs fails then too.
	var sippErrs []string
	if err := caller.Wait(t, wait); err != nil {
		sippErrs = append(sippErrs, fmt.Sprintf("sipp caller: %v\n%s", err, tail(caller.Output(), 2000)))
	}
	if err := callee.Wait(t, 30*time.Second); err != nil {
		sippErrs = append(sippErrs, fmt.Sprintf("sipp callee: %v\n%s", err, tail(callee.Output(), 2000)))
	}
	var ended []CallInfo
collect:
	for len(ended) < fl.calls {
		select {
		case c := <-endedc:
			ended = append(ended, c)
		case <-time.After(20 * time.Second):
			sippErrs = append(sippErrs, fmt.Sprintf("%d of %d calls ended", len(ended), fl.calls))
			break collect
		}
	}

	engine.stop()
	if fl.wantStall {
		select {
		case p := <-stalled:
			found := false
			for _, c := range ended {
				found = found || c.Recording != nil && c.Recording.Path == p
			}
			if !found {
				t.Errorf("the stalled recording %s is not among the calls' files", p)
			}
			t.Logf("every write of %s blocked", p)
		default:
			t.Error("no recording was stalled: the write hook did not run (build tag callrec_faults?)")
		}
	}
	var csv strings.Builder
	var late, overrun, arrivedLate [2]time.Duration
	var kernelDrops [2]uint64
	lateCalls, overrunCalls, dropCalls, arrivedLateCalls := 0, 0, 0, 0
	for _, c := range ended {
		if c.Recording != nil && c.Recording.Late != [2]time.Duration{} {
			lateCalls++
			late[0] += c.Recording.Late[0]
			late[1] += c.Recording.Late[1]
		}
		if c.Recording != nil && c.Recording.ArrivedLate != [2]time.Duration{} {
			arrivedLateCalls++
			arrivedLate[0] += c.Recording.ArrivedLate[0]
			arrivedLate[1] += c.Recording.ArrivedLate[1]
		}
		if c.Recording != nil && c.Recording.Overrun != [2]time.Duration{} {
			overrunCalls++
			overrun[0] += c.Recording.Overrun[0]
			overrun[1] += c.Recording.Overrun[1]
		}
		if c.RTPKernelDrops != [2]uint64{} {
			dropCalls++
			kernelDrops[0] += c.RTPKernelDrops[0]
			kernelDrops[1] += c.RTPKernelDrops[1]
		}
		path, bridged, endedAt := "", "", c.Ended.Format(time.RFC3339Nano)
		if c.Recording != nil {
			path = c.Recording.Path
			if c.Recording.Failed != "" {
				t.Errorf("call %s: recording failed: %s", c.ID, c.Recording.Failed)
			}
		}
		if !c.Bridged.IsZero() {
			bridged = c.Bridged.Format(time.RFC3339Nano)
		}
		// Channels whose sender skipped audio had silence in their input: benchcheck leaves
		// them out of the silence and alignment checks (and counts them).
		skip := ""
		if c.Recording != nil {
			for i, d := range c.Recording.Skipped {
				// A sender whose first packet after the bridge came late left silence there
				// that was in its input too; so did one whose packets reached the machine (by
				// the kernel's receive time) after their place was final.
				if d > maxSkip || c.Recording.FirstArrival[i] > maxSilence || c.Recording.ArrivedLate[i] > maxSkip {
					skip += strconv.Itoa(i)
				}
			}
		}
		fmt.Fprintf(&csv, "%s,%s,%s,0,%s,done,2,%s,%s\n", path, bridged, endedAt, c.Outcome, c.Arrival.Format(time.RFC3339Nano), skip)
	}
	// What the engine is answerable for: audio that reached its sockets (by the kernel's
	// receive time) and still missed the file. Audio that reached the machine only after its
	// place was final is the sender's (sipp starved beside the fault) and only logged.
	t.Logf("audio that reached the machine in time and was dropped as late in %d calls: caller %v, callee %v", lateCalls, late[0], late[1])
	t.Logf("audio dropped for want of ring space in %d calls: caller %v, callee %v", overrunCalls, overrun[0], overrun[1])
	t.Logf("datagrams the kernel dropped because a reader had not emptied its socket, in %d calls: caller %d, callee %d", dropCalls, kernelDrops[0], kernelDrops[1])
	t.Logf("audio that reached the machine after its place was final (the sender's delay) in %d calls: caller %v, callee %v", arrivedLateCalls, arrivedLate[0], arrivedLate[1])
	lagged := 0
	for _, c := range ended {
		if c.ReadersLagged {
			lagged++
		}
	}
	// Readers more than 3 s behind (ReadersLagged) is a risk, not a loss: the recorders went on
	// without waiting for them, and whatever that cost shows as late audio above. After a 2 s
	// stop on a busy machine the first tick often comes before the readers' first pass.
	t.Logf("readers more than 3 s behind in %d calls", lagged)
	engineLost := lateCalls + overrunCalls + dropCalls
	if engineLost > 0 {
		// Only other work on the machine, beyond the fault this test makes, can excuse it, and
		// only where it was measured and never in CI (CALLREC_E2E=1, a machine of its own).
		if why := outsideLoad(fl.burn, engine); why != "" && !testtool.E2E() {
			t.Skipf("inconclusive: the engine lost audio in %d calls (readers more than 3 s behind in %d), but %s", engineLost, lagged, why)
		}
		t.Errorf("the engine lost audio that reached its sockets: late in %d calls, ring overrun in %d, kernel drops in %d, readers more than 3 s behind in %d (%s)",
			lateCalls, overrunCalls, dropCalls, lagged, engine.report())
	}
	for _, e := range sippErrs {
		t.Error(e)
	}
	// Packets received per leg against the call's length: a sender that stopped sending (a
	// starved load generator) shows here, not in the engine's counters of late audio.
	minRate := [2]float64{1e9, 1e9}
	for _, c := range ended {
		if d := c.Ended.Sub(c.Arrival).Seconds(); d > 0 {
			for i := range minRate {
				minRate[i] = min(minRate[i], float64(c.PacketsIn[i])/d)
			}
		}
	}
	t.Logf("fewest packets received per second of a call: caller %.1f, callee %.1f", minRate[0], minRate[1])
	csvPath := filepath.Join(work, "calls.csv")
	if err := os.WriteFile(csvPath, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(checker, "check", csvPath, data).CombinedOutput()
	summary, problems, _ := strings.Cut(string(out), "\n")
	t.Logf("benchcheck: %s\n%s", summary, tail(problems, 3000))
	if fl.silenceIsInfo && err != nil && strings.Contains(summary, " unconnected=0 ") &&
		strings.Contains(summary, " bad=0 missing=0 ") {
		t.Logf("silence runs logged only (see silenceIsInfo)")
	} else if err != nil {
		t.Errorf("recordings failed the check: %v", err)
		for _, c := range ended {
			if c.Recording != nil && strings.Contains(problems, filepath.Base(c.Recording.Path)+":") {
				t.Logf("%s: arrival %s bridged +%v ended +%v packets in %v out %v late %v skipped %v first packets after the bridge %v",
					filepath.Base(c.Recording.Path), c.Arrival.Format("15:04:05.000"), c.Bridged.Sub(c.Arrival),
					c.Ended.Sub(c.Arrival), c.PacketsIn, c.PacketsOut, c.Recording.Late, c.Recording.Skipped, c.Recording.FirstArrival)
			}
		}
	}
	if m := regexp.MustCompile(`sender_skipped=(\d+)`).FindStringSubmatch(summary); m == nil {
		t.Errorf("benchcheck printed no sender_skipped")
	} else if k, _ := strconv.Atoi(m[1]); k > 3*fl.calls/2 {
		// Fewer than a quarter of the channels had continuous input: the load generator
		// starved and the check above proved little. sipp pauses some of its streams while
		// the engine is stopped (their packets reach the machine late, by the kernel's
		// timestamps): about a third of the channels with a 2 s SIGSTOP, at load 1 (70 of 200
		// in a CI run; 690 of 1,000 files, mostly their caller channel, in the STALL=2 rows of
		// BENCHMARKS.md), so the check runs on the other two thirds.
		t.Errorf("inconclusive: %d of %d channels had senders that skipped audio (load average %s)", k, 2*fl.calls, loadavg())
	}
}

// needRoot skips where raising a priority is not allowed (not root), and fails instead
// under CALLREC_E2E=1: CI runs as root, and a fault test that quietly skips there proves
// nothing.
func needRoot(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (needs root)"
	if testtool.E2E() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// freeRange picks a random even base port whose n ports above it are free for UDP on
// loopback now, for sipp's media ports and the engine's RTP range.
func freeRange(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		base := 20000 + 2*rand.IntN((60000-20000-n)/2)
		ok := true
		for p := base; p < base+n && ok; p += 2 {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// raisePriority sets every thread of process pid to nice (setpriority is per thread).
func raisePriority(pid, nice int) error {
	tids, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, tid := range tids {
		id, err := strconv.Atoi(tid.Name())
		if err != nil {
			continue
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, id, nice); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
	}
	return nil
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestEngineStoppedTwoSecondsLosesNoAudio: the engine process is stopped (SIGSTOP) for 2 s
// while 100 recorded calls are connected, as a stalled VM, a long GC pause or a debugger
// would. The packets wait in the kernel; afterwards every file is exact and no continuous
// channel holds a silence over 60 ms.
func TestEngineStoppedTwoSecondsLosesNoAudio(t *testing.T) {
	runFaultLoad(t, faultLoad{calls: 100, hold: 12 * time.Second, stop: 2 * time.Second})
}

// TestCPUStarvationLosesNoAudio: 100 recorded calls with a busy loop of the same priority
// beside the engine for the whole run (a noisy neighbour on the machine).
func TestCPUStarvationLosesNoAudio(t *testing.T) {
	runFaultLoad(t, faultLoad{calls: 200, hold: 12 * time.Second, burn: 1, silenceIsInfo: true})
}
