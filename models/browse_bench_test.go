package models

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"callrec/internal/storetest"
)

// benchFolder fills a store with n recordings in one folder (prepared bulk insert).
func benchFolder(b *testing.B, n int) (*Store, Actor, string) { return benchFolderTB(b, n) }

func benchFolderTB(b testing.TB, n int) (*Store, Actor, string) {
	b.Helper()
	ctx := context.Background()
	s, err := Open(storetest.DSN(b, ""))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	root := Actor{Role: RolePlatformAdmin}
	c, _ := s.CreateCustomer(ctx, root, CustomerInput{Name: "A", SubscriberID: "337826", Language: "de"})
	p, _ := s.CreatePool(ctx, root, c.ID, PoolInput{Name: "P", StartNumber: "4971121843140", Destination: "4915258878874", Numbers: []string{"49711218431431"}})
	folder := "call_recording/337826/4971121843140"
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]File, n)
	for i := range rows {
		at := base.Add(time.Duration(i) * 37 * time.Second)
		a := fmt.Sprintf("4917%07d", (i*7919)%10_000_000)
		name := "rec_" + at.Format("20060102_150405") + "_337826_4971121843140_" + a + "_49711218431431_4915258878874.wav"
		rows[i] = File{CustomerID: c.ID, Folder: folder, Name: name, Path: folder + "/" + name, Kind: KindRecording, Size: int64(i % 5000 * 16000),
			DurationMS: int64(i%3600) * 1000, CallAt: &at, A: a, B: "49711218431431", C: "4915258878874", PoolID: p.ID, Channels: 1}
	}
	t0 := time.Now()
	if err := s.CreateFileRows(ctx, rows); err != nil {
		b.Fatal(err)
	}
	b.Logf("inserted %d rows in %v", n, time.Since(t0).Round(time.Millisecond))
	return s, Actor{UserID: 1, CustomerID: c.ID, Role: RoleCustomerAdmin}, folder
}

// BenchmarkBrowse100k is one File Browser page of 50 out of 100,000 recordings in one folder:
// the first page by date, a deep keyset page by duration, a number search; each answered from
// the listing cache (the folder unchanged since the page was last read) and "-sqlite" (or
// "-postgres", by the backend storetest chose) read anew from the database (the cache emptied
// before every call). cpu-ns/op is this process's CPU; on PostgreSQL db-cpu-ns/op adds the
// server's (its processes on this machine), which runs outside the benchmark's process.
func BenchmarkBrowse100k(b *testing.B) {
	s, a, folder := benchFolder(b, 100_000)
	ctx := context.Background()
	deep := BrowseQuery{Folder: folder, Sort: "duration", Limit: 500, NoTotal: true}
	for range 120 {
		p, err := s.Browse(ctx, a, deep)
		if err != nil {
			b.Fatal(err)
		}
		deep.Cursor = p.Next
	}
	for name, q := range map[string]BrowseQuery{
		"first-page-by-date":   {Folder: folder},
		"deep-page-60000":      {Folder: folder, Sort: "duration", Cursor: deep.Cursor},
		"number-search":        {Folder: folder, Number: "4917000123"},
		"api-all-folders-date": {},
	} {
		for _, cached := range []bool{true, false} {
			sub := name
			if !cached {
				sub += "-" + s.Backend()
			}
			b.Run(sub, func(b *testing.B) {
				cpu, dbCPU := cpuTime(), serverCPU(b, s)
				for b.Loop() {
					if !cached {
						s.lists.clear()
					}
					p, err := s.Browse(ctx, a, q)
					if err != nil || (q.Number == "" && len(p.Files) != 50) {
						b.Fatal(err, len(p.Files))
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
				if s.Backend() == "postgres" {
					b.ReportMetric(float64(serverCPU(b, s)-dbCPU)/float64(b.N), "db-cpu-ns/op")
				}
			})
		}
	}
}

// serverCPU is the CPU time of the PostgreSQL server s uses, when it runs on this machine: its
// postmaster and every process the postmaster started (the connections' backends), from /proc.
// 0 on SQLite (which runs inside this process).
func serverCPU(b *testing.B, s *Store) time.Duration {
	if s.Backend() != "postgres" {
		return 0
	}
	var backend int
	if err := s.SQL().QueryRow("SELECT pg_backend_pid()").Scan(&backend); err != nil {
		b.Fatal(err)
	}
	postmaster := procStat(backend).ppid
	var total time.Duration
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st := procStat(pid); pid == postmaster || st.ppid == postmaster {
			total += st.cpu
		}
	}
	return total
}

type procInfo struct {
	ppid int
	cpu  time.Duration
}

// procStat reads a process's parent and CPU time (utime + stime, in clock ticks of 1/100 s).
func procStat(pid int) procInfo {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}
	}
	// After "pid (comm) ": state ppid ... utime is field 14, stime 15 (1-based, comm may hold spaces).
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+2:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return procInfo{}
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return procInfo{ppid: ppid, cpu: time.Duration(ut+st) * 10 * time.Millisecond}
}

// cpuTime is the process's CPU time (wall time per op grows with the machine's load, this not).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
