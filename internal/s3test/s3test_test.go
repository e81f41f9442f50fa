package s3test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestMain(m *testing.M) { Main(m) }

// A bucket's own keys write and read it (a ranged read too); another test's keys cannot.
func TestBucketsAreIsolated(t *testing.T) {
	a, b := New(t), New(t)
	if a.Name == b.Name || a.AccessKey == b.AccessKey {
		t.Fatal("two tests share a bucket or keys")
	}
	ctx := context.Background()
	ca, err := a.Client()
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if _, err := ca.PutObject(ctx, a.Name, "dir/obj", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	opts := minio.GetObjectOptions{}
	opts.SetRange(1234, 1243)
	o, err := ca.GetObject(ctx, a.Name, "dir/obj", opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(got, data[1234:1244]) {
		t.Fatalf("range read %q %v", got, err)
	}
	cb, err := b.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.StatObject(ctx, a.Name, "dir/obj", minio.StatObjectOptions{}); err == nil {
		t.Fatal("another test's keys read the bucket")
	}
	if _, err := cb.PutObject(ctx, a.Name, "evil", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err == nil {
		t.Fatal("another test's keys wrote the bucket")
	}
}

// A server of the test's own stops (clients see it down) and comes back with its data.
func TestServerStopStart(t *testing.T) {
	t0 := time.Now()
	s := Start(t)
	t.Logf("SeaweedFS ready in %v", time.Since(t0).Round(time.Millisecond))
	bk := s.Bucket(t)
	c, err := bk.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.PutObject(ctx, bk.Name, "kept", bytes.NewReader([]byte("kept")), 4, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if _, err := c.StatObject(sctx, bk.Name, "kept", minio.StatObjectOptions{}); err == nil {
		t.Fatal("stopped server answered")
	}
	cancel()
	if err := s.StartAgain(); err != nil {
		t.Fatal(err)
	}
	st, err := c.StatObject(ctx, bk.Name, "kept", minio.StatObjectOptions{})
	if err != nil || st.Size != 4 {
		t.Fatalf("after restart: %+v %v", st, err)
	}
}
