package media

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// starvation measures, over a fault run, the facts that may excuse a run in which the engine
// lost audio: how much CPU other work on the machine took (all CPU time in /proc/stat less
// that of the run's own processes), how long the engine's threads waited for a CPU
// (schedstat run_delay), and the load average.
type starvation struct {
	engine int
	start  time.Time

	mu          sync.Mutex
	ours        map[int]float64 // CPU seconds each watched process had used, as last seen
	ours0       map[int]float64 // ... when it was first seen
	busy0, busy float64         // the machine's CPU seconds (all CPUs) at the start and now
	wait0, wait float64         // the engine's threads' run_delay, seconds
	maxLoad     string
	maxLoad1    float64
	end         time.Time
	quit, done  chan struct{}
}

func startStarvation(engine int) *starvation {
	s := &starvation{engine: engine, start: time.Now(), ours: map[int]float64{}, ours0: map[int]float64{},
		quit: make(chan struct{}), done: make(chan struct{})}
	s.watch(os.Getpid())
	s.watch(engine)
	s.busy0, s.wait0 = machineBusy(), runDelay(engine)
	s.busy, s.wait, s.end = s.busy0, s.wait0, s.start
	go func() {
		defer close(s.done)
		for {
			s.sample()
			select {
			case <-s.quit:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return s
}

// watch counts pid as one of the run's own processes (sipp, a busy loop).
func (s *starvation) watch(pid int) {
	if c, ok := procSeconds(pid); ok {
		s.mu.Lock()
		if _, seen := s.ours0[pid]; !seen {
			s.ours0[pid] = c
		}
		s.ours[pid] = c
		s.mu.Unlock()
	}
}

func (s *starvation) sample() {
	busy, wait := machineBusy(), runDelay(s.engine)
	b, _ := os.ReadFile("/proc/loadavg")
	load := strings.TrimSpace(string(b))
	l1, _ := strconv.ParseFloat(strings.Fields(load + " 0")[0], 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	for pid := range s.ours {
		if c, ok := procSeconds(pid); ok {
			s.ours[pid] = c
		}
	}
	s.busy, s.end = busy, time.Now()
	if wait > 0 {
		s.wait = wait
	}
	if l1 >= s.maxLoad1 {
		s.maxLoad1, s.maxLoad = l1, load
	}
}

// stop ends the sampling; the figures stay.
func (s *starvation) stop() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.done
}

// figures returns the CPUs other work took on average, the engine's CPU seconds and its
// threads' wait for a CPU, over the run.
func (s *starvation) figures() (others float64, engineCPU, waited time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ours := 0.0
	for pid, c := range s.ours {
		ours += c - s.ours0[pid]
	}
	window := s.end.Sub(s.start).Seconds()
	if window > 0 {
		others = max(0, s.busy-s.busy0-ours) / window
	}
	engineCPU = time.Duration((s.ours[s.engine] - s.ours0[s.engine]) * float64(time.Second))
	waited = time.Duration((s.wait - s.wait0) * float64(time.Second))
	return others, engineCPU, waited
}

func (s *starvation) report() string {
	others, cpu, waited := s.figures()
	return fmt.Sprintf("engine CPU %v, its threads waited %v for a CPU; other work took %.2f CPUs on average; highest load average %s",
		cpu.Round(time.Millisecond), waited.Round(time.Millisecond), others, s.maxLoad)
}

// outsideLoad says why a run is inconclusive, or "" when it is not: other work (beyond the
// run's own processes and its busy loops) took more than a quarter of a CPU on average.
func outsideLoad(burn int, s *starvation) string {
	others, _, _ := s.figures()
	if others <= 0.25 {
		return ""
	}
	return fmt.Sprintf("other work on the machine took %.2f CPUs on average beside the test's %d busy loop(s) (%s)", others, burn, s.report())
}

// machineBusy is the CPU time (seconds, all CPUs) the machine spent on anything but idle.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	total := 0.0
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		total += n
	}
	return total / clockTicks
}

// procSeconds is utime+stime of pid in seconds.
func procSeconds(pid int) (float64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces: the fields start after its closing parenthesis.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clockTicks, true
}

// runDelay is the time pid's threads spent runnable but waiting for a CPU, in seconds.
func runDelay(pid int) float64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	total := 0.0
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) >= 2 {
			n, _ := strconv.ParseFloat(f[1], 64)
			total += n / 1e9
		}
	}
	return total
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc's tick counts.
const clockTicks = 100
