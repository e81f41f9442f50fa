package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"callrec/internal/s3test"
	"callrec/internal/sipptest"
	"callrec/internal/testtool"
)

// BenchmarkEngineCPUWithUploads runs the same steady load of recorded calls (sipp, stereo; calls
// start and end all the time, so recordings are finished and uploaded during the window) with
// --storage file and with --storage s3 on SeaweedFS, and reports the process's CPU per
// call-second of each and their ratio. Uploads run beside the media path, not on it: the
// ratio is what they add. Run it alone, under `flock /work/.bench.lock`:
//
//	BENCH_RATE=5 BENCH_LEN=20 go test -run '^$' -bench EngineCPUWithUploads -benchtime 1x ./cmd/callrec
func BenchmarkEngineCPUWithUploads(b *testing.B) {
	testtool.Need(b, "sipp", "sip-tester")
	rate, length := benchEnv("BENCH_RATE", 5), benchEnv("BENCH_LEN", 20)
	for b.Loop() {
		file := engineLoad(b, nil, rate, length)
		bk := s3test.New(b)
		s3 := engineLoad(b, &bk, rate, length)
		b.ReportMetric(file, "file-cpu-ms/call-s")
		b.ReportMetric(s3, "s3-cpu-ms/call-s")
		b.ReportMetric(s3/file, "s3/file")
	}
}

func benchEnv(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
		return n
	}
	return def
}

// engineLoad offers rate calls a second of length seconds connected for long enough to reach a
// steady state, and returns the product's CPU (this process: serve runs in it, sipp does not)
// per call-second over a window of that state.
func engineLoad(b *testing.B, bk *s3test.Bucket, rate, length int) float64 {
	var env map[string]string
	var args []string
	if bk != nil {
		env = bk.Env()
		args = []string{"--storage", "s3://" + bk.Name + "/bench"}
	}
	p := startProductIn(b, b.TempDir(), env, args...)
	defer p.stop()
	tok := p.token("demo-admin")
	p.bookDemoPool(tok)
	const whisper = 7 // s: the callee hears the whisper before the bridge
	ramp, window := length+whisper+3, 30
	total := rate * (ramp + window + 2)
	max := strconv.Itoa(total)
	callee := sipptest.Start(b, "sipp_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "100"},
		"-p", strconv.Itoa(p.trunkPort), "-m", max, "-timeout", "600s")
	time.Sleep(200 * time.Millisecond)
	hold := strconv.Itoa((length + whisper) * 1000)
	caller := sipptest.Start(b, "sipp_caller.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("caller_440.ulaw"), "ACTIONS": "", "HOLD_MS": hold, "FROM": "49711218431440"},
		"-p", strconv.Itoa(sipptest.FreePort(b)), "-s", "49711218431431", "-m", max, "-l", max, "-r", strconv.Itoa(rate), "-timeout", "600s", p.sip)
	defer caller.Kill()
	defer callee.Kill()
	time.Sleep(time.Duration(ramp) * time.Second)
	c0, t0 := selfCPU(), time.Now()
	time.Sleep(time.Duration(window) * time.Second)
	c1, t1 := selfCPU(), time.Now()
	// In the steady state rate*length calls are connected (the whisper is played, not recorded
	// as a connected call-second: counted as connected too, as the engine carries its media).
	callSeconds := float64(rate*(length+whisper)) * t1.Sub(t0).Seconds()
	perCS := float64((c1 - c0).Microseconds()) / 1000 / callSeconds
	if err := caller.Wait(b, time.Duration(length+whisper+60)*time.Second); err != nil {
		b.Logf("sipp caller: %v\n%s", err, lastLines(caller.Output(), 5))
	}
	// Every call over before the product stops: serve's shutdown with calls still arriving is
	// not what this measures.
	time.Sleep(3 * time.Second)
	callee.Kill()
	time.Sleep(2 * time.Second)
	if bk != nil {
		// Every recording reached the bucket: nothing is left in the spool's pool folder.
		deadline := time.Now().Add(60 * time.Second)
		for {
			left, _ := os.ReadDir(p.data + "/call_recording/337826/4971121843140")
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Errorf("%d recordings still in the spool a minute after the load", len(left))
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	b.Logf("storage %v: %.3f ms CPU per call-second (%d calls/s of %d s, window %v)", args, perCS, rate, length, t1.Sub(t0).Round(time.Second))
	return perCS
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
