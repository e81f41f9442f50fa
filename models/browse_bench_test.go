package models

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"callrec/internal/storetest"
)

// benchFolder fills a store with n recordings in one folder (prepared bulk insert).
func benchFolder(b *testing.B, n int) (*Store, Actor, string) {
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
// the listing cache (the folder unchanged since the page was last read) and "-sqlite" read
// anew (the cache emptied before every call).
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
				sub += "-sqlite"
			}
			b.Run(sub, func(b *testing.B) {
				cpu := cpuTime()
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
			})
		}
	}
}

// cpuTime is the process's CPU time (wall time per op grows with the machine's load, this not).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
