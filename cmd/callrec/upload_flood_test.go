package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callrec/internal/sipptest"
	"callrec/internal/testtool"
)

// TestUploadFloodOnServe is the "fill the disk and the memory" attack on a real `callrec serve`
// process (a child, with its own TMPDIR): 20 concurrent anonymous 40 MB multipart posts from curl,
// without a token, with an anonymous session's token (query and header), to the announcement
// upload, the login form and the API; half of them send the body without waiting for 100
// Continue. Afterwards TMPDIR is empty, and the process's resident memory stayed under 150 MB
// the whole time (its peak, VmHWM, includes the start-up).
func TestUploadFloodOnServe(t *testing.T) {
	testtool.Short(t)
	curl := testtool.Need(t, "curl", "curl")
	data, tmp, work := t.TempDir(), t.TempDir(), t.TempDir()
	httpAddr := "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t))
	args := []string{"serve", "--demo", "--data", data, "--http", httpAddr,
		"--sip", "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t)), "--trunk", "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t)),
		"--rtp-ports", "46000-46099", "--log-level", "warn"}
	var out bytes.Buffer
	child := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	child.Env = append(os.Environ(), "CALLREC_SERVE_HELPER=1", "CALLREC_SERVE_ARGS="+strings.Join(args, "\t"),
		"CALLREC_ADMIN_PASSWORD=platform-admin-pw", "TMPDIR="+tmp)
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	waitHealthy(t, httpAddr, nil)

	big := filepath.Join(work, "big.wav")
	if f, err := os.Create(big); err != nil {
		t.Fatal(err)
	} else {
		_ = f.Truncate(40_000_000)
		f.Close()
	}
	base := "http://" + httpAddr
	jar := filepath.Join(work, "jar")
	page, err := exec.Command(curl, "-sS", "-c", jar, base+"/login").Output()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the login page")
	}
	token := string(m[1])

	stop := make(chan struct{})
	var peak int64
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			if kb := procStatusKB(child.Process.Pid, "VmRSS"); kb > peak {
				peak = kb
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	codes := make([]string, 20)
	for i := range codes {
		var target []string
		switch i % 5 {
		case 0:
			target = []string{base + "/files/announcements"}
		case 1:
			target = []string{base + "/files/announcements?_csrf=" + token}
		case 2:
			target = []string{"-H", "X-CSRF-Token: " + token, base + "/files/announcements"}
		case 3:
			target = []string{base + "/login?_csrf=" + token}
		case 4:
			target = []string{base + "/api/v1/files"}
		}
		a := []string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "-b", jar, "-F", "file=@" + big + ";type=audio/wav"}
		if i%2 == 1 {
			a = append(a, "-H", "Expect:")
		}
		a = append(a, target...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, _ := exec.Command(curl, a...).Output() // a reset while sending is a refusal too
			codes[i] = string(o)
		}()
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	hwm := procStatusKB(child.Process.Pid, "VmHWM")
	t.Logf("statuses %v; resident memory: peak sampled %d kB, VmHWM %d kB", codes, peak, hwm)
	for i, c := range codes {
		if c == "200" || c == "201" {
			t.Errorf("anonymous post %d was accepted: %s", i, c)
		}
	}
	if hwm == 0 || hwm > 150_000 || peak > 150_000 {
		t.Errorf("resident memory: VmHWM %d kB, sampled peak %d kB; want under 150 MB", hwm, peak)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ents, _ := os.ReadDir(tmp)
		if len(ents) == 0 {
			break
		}
		if time.Now().After(deadline) {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Fatalf("TMPDIR holds %v", names)
		}
	}
}

// procStatusKB reads a "kB" line of /proc/PID/status (0 when it cannot).
func procStatusKB(pid int, key string) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
