package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"callrec/internal/s3test"
	"callrec/internal/storetest"
	"callrec/models"
	"callrec/models/files"
)

// The tests run on SQLite, or on PostgreSQL with CALLREC_TEST_DB=postgres, against a real S3.
func TestMain(m *testing.M) {
	storetest.UseTemplate(func(dsn string) error {
		s, err := models.Open(dsn)
		if err != nil {
			return err
		}
		return s.Close()
	})
	stopDB, stopS3 := storetest.Enable(), s3test.Enable()
	code := m.Run()
	stopS3()
	stopDB()
	os.Exit(code)
}

type fixture struct {
	store *models.Store
	dir   string
	dsn   string // the store's database
	spool *files.Local
	pool  models.Pool
	admin models.Actor
	seq   atomic.Int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	dsn := storetest.DSN(t, dir)
	s, err := models.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	d, _, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := s.UserByName(ctx, d.Admin)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.PoolByNumber(ctx, "4971121843140")
	if err != nil {
		t.Fatal(err)
	}
	spool, err := files.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spool.Close() })
	return &fixture{store: s, dir: dir, dsn: dsn, spool: spool, pool: p, admin: models.ActorOf(admin)}
}

// wav is a 16-bit stereo WAV of n frames of a ramp (the data differ per seed).
func wav(frames int, seed int) []byte {
	var b bytes.Buffer
	data := frames * 4
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+data))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(2), uint32(8000), uint32(32000), uint16(4), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(data))
	s := make([]int16, frames*2)
	for i := range s {
		s[i] = int16(i*(seed+7) + seed)
	}
	binary.Write(&b, binary.LittleEndian, s)
	return b.Bytes()
}

// call records a finished call whose recording is in the spool, as the engine and its sink leave it.
func (f *fixture) call(t testing.TB, data []byte) models.CallRecord {
	t.Helper()
	n := f.seq.Add(1)
	at := time.Date(2026, 3, 1, 10, 0, int(n), 0, time.UTC)
	rel := fmt.Sprintf("call_recording/337826/4971121843140/rec_%d.wav", n)
	if _, err := f.spool.Put(context.Background(), rel, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	r := models.CallRecord{EngineID: fmt.Sprintf("call-%d", n), CustomerID: f.pool.CustomerID, PoolID: f.pool.ID, SubscriberID: "337826",
		StartNumber: "4971121843140", A: "49711218431440", B: "49711218431431", C: "4915258878874", Arrival: at, Answered: at, Bridged: at,
		Ended: at.Add(time.Minute), State: "ended", RecState: "off", Mode: "automatic", Outcome: "completed", Recorded: time.Minute,
		Recording: &models.RecordingRecord{Path: rel, Channels: 2, Size: int64(len(data)), Duration: time.Minute, Recorded: time.Minute, Final: true}}
	if _, err := f.store.SaveCall(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) recording(t *testing.T, rel string) models.Recording {
	t.Helper()
	recs, err := f.store.PendingUploads(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Path == rel {
			return r
		}
	}
	return models.Recording{Path: rel, Storage: models.StorageStored} // no longer pending
}

func storageOf(t *testing.T, b s3test.Bucket) *files.S3 {
	t.Helper()
	s, err := files.NewS3(context.Background(), "s3://"+b.Name+"/node1", files.S3ConfigFromEnv(func(k string) string { return b.Env()[k] }))
	if err != nil {
		t.Fatal(err)
	}
	s.PartSize = 5 << 20
	return s
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// A finished recording is uploaded (multipart when large), byte-identical, marked stored with
// its checksum and peaks, and only then removed from the spool.
func TestUploadStoresAndRemovesSpoolCopy(t *testing.T) {
	f := newFixture(t)
	st := storageOf(t, s3test.New(t))
	small, large := wav(8000, 1), wav(3_000_000, 2) // 32 KB and 12 MB: one PUT, three parts
	rs, rl := f.call(t, small), f.call(t, large)
	if got := f.recording(t, rs.Recording.Path); got.Storage != models.StorageSpooled {
		t.Fatalf("a finished recording is %q, want spooled", got.Storage)
	}
	u := New(f.store, f.spool, st, nil)
	if err := u.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		r    models.CallRecord
		data []byte
	}{{rs, small}, {rl, large}} {
		o, err := st.Open(ctx, c.r.Recording.Path)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(o)
		o.Close()
		if !bytes.Equal(got, c.data) {
			t.Fatalf("%s differs in the storage", c.r.Recording.Path)
		}
		if _, err := f.spool.Stat(ctx, c.r.Recording.Path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("spool copy of %s kept after storing: %v", c.r.Recording.Path, err)
		}
		d := f.detail(t, c.r.Recording.Path)
		if d.Storage != models.StorageStored || d.SHA256 != sum(c.data) || d.StoredAt == nil || len(d.Peaks) != 2*files.PeakBuckets { // stereo: a lane per side
			t.Errorf("%s: storage %q sha %q stored %v peaks %d", c.r.Recording.Path, d.Storage, d.SHA256, d.StoredAt, len(d.Peaks))
		}
	}
	if n, _ := f.store.PendingUploads(ctx, 0, 10); len(n) != 0 {
		t.Errorf("still pending: %+v", n)
	}
}

func (f *fixture) detail(t *testing.T, rel string) models.Recording {
	t.Helper()
	r, err := f.store.RecordingByPath(context.Background(), rel)
	if err != nil {
		t.Fatalf("no recording row for %s: %v", rel, err)
	}
	return r
}

// With the data folder as the storage the file stays where it is and is marked stored.
func TestUploadToTheDataFolderOnlyMarks(t *testing.T) {
	f := newFixture(t)
	data := wav(8000, 3)
	r := f.call(t, data)
	u := New(f.store, f.spool, f.spool, nil)
	if err := u.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := f.detail(t, r.Recording.Path)
	if d.Storage != models.StorageStored || d.SHA256 != sum(data) {
		t.Fatalf("%+v", d)
	}
	if _, err := f.spool.Stat(context.Background(), r.Recording.Path); err != nil {
		t.Fatalf("file gone from the data folder: %v", err)
	}
}

// S3 down while calls end: recordings stay spooled (then failed, with the error), nothing is
// removed, and once S3 is back every one is stored, byte-identical.
func TestUploadWhileS3IsDown(t *testing.T) {
	f := newFixture(t)
	srv := s3test.Start(t)
	st := storageOf(t, srv.Bucket(t))
	srv.Stop()
	var datas [][]byte
	var recs []models.CallRecord
	for i := range 5 {
		datas = append(datas, wav(4000+i*1000, 10+i))
		recs = append(recs, f.call(t, datas[i]))
	}
	u := New(f.store, f.spool, st, nil)
	u.Retry = func(int) time.Duration { return 200 * time.Millisecond }
	u.Poll = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for f.recording(t, recs[0].Recording.Path).Storage != models.StorageFailed {
		if time.Now().After(deadline) {
			t.Fatal("no failed upload recorded while S3 is down")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r0 := f.recording(t, recs[0].Recording.Path)
	if r0.StoreError == "" || r0.StoreAttempts < 1 {
		t.Errorf("failure not recorded: %+v", r0)
	}
	time.Sleep(time.Second) // several passes against a dead server
	for i, r := range recs {
		if _, err := f.spool.Stat(context.Background(), r.Recording.Path); err != nil {
			t.Fatalf("recording %d lost from the spool while S3 is down: %v", i, err)
		}
	}
	if err := srv.StartAgain(); err != nil {
		t.Fatal(err)
	}
	u.Kick()
	for u.Stored() < int64(len(recs)) {
		if time.Now().After(deadline.Add(60 * time.Second)) {
			t.Fatalf("only %d of %d stored after S3 came back", u.Stored(), len(recs))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, r := range recs {
		o, err := st.Open(context.Background(), r.Recording.Path)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(o)
		o.Close()
		if !bytes.Equal(got, datas[i]) {
			t.Errorf("recording %d differs after the outage", i)
		}
		if d := f.detail(t, r.Recording.Path); d.Storage != models.StorageStored || d.StoreError != "" {
			t.Errorf("recording %d: %q %q", i, d.Storage, d.StoreError)
		}
	}
}

// A recording deleted while it uploads does not stay in the storage.
func TestUploadOfADeletedRecording(t *testing.T) {
	f := newFixture(t)
	st := storageOf(t, s3test.New(t))
	r := f.call(t, wav(8000, 4))
	rec := f.recording(t, r.Recording.Path)
	// Deleted by the customer between the listing and the upload.
	if _, err := f.store.DeleteRecordings(context.Background(), f.admin, "127.0.0.1", []uint{rec.FileID},
		func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	u := New(f.store, f.spool, st, nil)
	if err := u.one(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Stat(context.Background(), r.Recording.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a deleted recording stayed in the storage: %v", err)
	}
	if _, err := f.spool.Stat(context.Background(), r.Recording.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a deleted recording stayed in the spool: %v", err)
	}
}

// BenchmarkUpload60MinStereo stores a 60-minute stereo recording (8 kHz, 16 bit: 115 MB) from
// the spool into SeaweedFS the way a call's end does: waveform, multipart upload in 16 MiB
// parts with their MD5s, the check, the mark, the spool copy removed.
func BenchmarkUpload60MinStereo(b *testing.B) {
	dir := b.TempDir()
	s, err := models.Open(storetest.DSN(b, dir))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, _, err := s.SeedDemo(ctx); err != nil {
		b.Fatal(err)
	}
	p, err := s.PoolByNumber(ctx, "4971121843140")
	if err != nil {
		b.Fatal(err)
	}
	spool, err := files.NewLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer spool.Close()
	bk := s3test.New(b)
	st, err := files.NewS3(ctx, "s3://"+bk.Name+"/bench", files.S3ConfigFromEnv(func(k string) string { return bk.Env()[k] }))
	if err != nil {
		b.Fatal(err)
	}
	data := wav(60*60*8000, 9)
	f := &fixture{store: s, dir: dir, spool: spool, pool: p}
	u := New(s, spool, st, nil)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		r := f.call(b, data)
		rec, err := s.RecordingByPath(ctx, r.Recording.Path)
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		b.StartTimer()
		if err := u.one(ctx, rec); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime() - c0
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime is this process's CPU time (wall time grows with the machine's other work).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
