package files

// What one backend does that the other has not: symlinks on disk, an S3 prefix, S3 start errors.

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"callrec/internal/s3test"
)

// Symlinks in the data folder are neither opened nor listed, even pointing inside it.
func TestLocalRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	put(t, l, "call_recording/2/p/theirs.wav", []byte("theirs"))
	os.MkdirAll(filepath.Join(dir, "call_recording/1/p"), 0o750)
	os.Symlink(filepath.Join(dir, "call_recording/2/p/theirs.wav"), filepath.Join(dir, "call_recording/1/p/link.wav"))
	os.Symlink(filepath.Join(dir, "call_recording/2/p"), filepath.Join(dir, "call_recording/1/q"))
	os.Symlink("/etc/passwd", filepath.Join(dir, "call_recording/1/p/passwd.wav"))
	ctx := context.Background()
	for _, k := range []string{"call_recording/1/p/link.wav", "call_recording/1/q/theirs.wav", "call_recording/1/p/passwd.wav"} {
		if _, err := l.Open(ctx, k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("open %s: %v", k, err)
		}
		if _, err := l.Stat(ctx, k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat %s: %v", k, err)
		}
	}
	if _, err := l.Put(ctx, "call_recording/1/q/new.wav", strings.NewReader("x"), 1); err == nil {
		t.Error("put through a symlinked folder")
	}
	if _, err := os.Stat(filepath.Join(dir, "call_recording/2/p/new.wav")); err == nil {
		t.Error("put through a symlinked folder landed in the other folder")
	}
	for i, err := range l.List(ctx, "call_recording/1", true) {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("listed %s", i.Key)
	}
	for range l.List(ctx, "call_recording/1/q", true) {
		t.Error("listed through a symlinked folder")
	}
	if err := l.Delete(ctx, "call_recording/1/q/theirs.wav"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Stat(ctx, "call_recording/2/p/theirs.wav"); err != nil {
		t.Error("delete through a symlinked folder removed the target")
	}
}

// Two storages with prefixes on one bucket do not see each other.
func TestS3Prefix(t *testing.T) {
	b := s3test.New(t)
	env := func(k string) string { return b.Env()[k] }
	ctx := context.Background()
	a, err := NewS3(ctx, "s3://"+b.Name+"/node/a", S3ConfigFromEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	whole, err := NewS3(ctx, "s3://"+b.Name, S3ConfigFromEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	put(t, a, "x/y.wav", []byte("y"))
	if _, err := whole.Stat(ctx, "node/a/x/y.wav"); err != nil {
		t.Fatalf("prefixed object not at its key: %v", err)
	}
	put(t, whole, "node/ab/z.wav", []byte("z"))
	for i, err := range a.List(ctx, "", true) {
		if err != nil || i.Key != "x/y.wav" {
			t.Errorf("prefix lists %+v %v", i, err)
		}
	}
	// The start-up probe leaves nothing behind.
	for i, err := range whole.List(ctx, "", true) {
		if err == nil && strings.Contains(i.Key, "probe") {
			t.Errorf("probe left: %s", i.Key)
		}
	}
	for _, bad := range []string{"s3://", "s3://Bad_Bucket", "s3://b/../x", "s3://b/.hidden", "http://b", "s3://k:s@b", "s3://b?x=1"} {
		if _, _, err := ParseS3URL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Wrong keys, a missing bucket and an unreachable server fail at start, saying what is wrong.
func TestS3StartErrors(t *testing.T) {
	b := s3test.New(t)
	ctx := context.Background()
	cfg := S3Config{Endpoint: b.Endpoint, Region: b.Region, AccessKey: b.AccessKey, SecretKey: "wrong" + b.SecretKey}
	_, err := NewS3(ctx, "s3://"+b.Name, cfg)
	if err == nil || !strings.Contains(err.Error(), "refused the keys") {
		t.Errorf("wrong secret: %v", err)
	}
	cfg.AccessKey, cfg.SecretKey = "NOSUCHKEY", b.SecretKey
	if _, err := NewS3(ctx, "s3://"+b.Name, cfg); err == nil || !strings.Contains(err.Error(), "refused the keys") {
		t.Errorf("unknown key: %v", err)
	}
	cfg.AccessKey = b.AccessKey
	if _, err := NewS3(ctx, "s3://no-such-bucket-"+b.Name, cfg); err == nil || !(strings.Contains(err.Error(), "no such bucket") || strings.Contains(err.Error(), "may not")) {
		t.Errorf("missing bucket: %v", err)
	}
	if _, err := NewS3(ctx, "s3://"+b.Name, S3Config{Endpoint: b.Endpoint}); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("no keys: %v", err)
	}
	l, _ := netListen()
	dead := "http://" + l
	if _, err := NewS3(ctx, "s3://"+b.Name, S3Config{Endpoint: dead, AccessKey: "a", SecretKey: "b"}); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("unreachable: %v", err)
	}
}

// netListen gives an address nothing listens on.
func netListen() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func multipartETag(data []byte, part int64) string {
	var sums []byte
	n := 0
	for off := int64(0); off < int64(len(data)); off += part {
		m := md5.Sum(data[off:min(off+part, int64(len(data)))])
		sums = append(sums, m[:]...)
		n++
	}
	m := md5.Sum(sums)
	return fmt.Sprintf("%x-%d", m, n)
}
