package upload

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"callrec/internal/s3test"
	"callrec/internal/testtool"
	"callrec/models"
	"callrec/models/files"
)

// slowStorage hands Put a reader that trickles, so the helper is surely killed mid-upload.
type slowStorage struct{ files.Storage }

func (s slowStorage) Put(ctx context.Context, key string, r io.Reader, size int64) (files.Info, error) {
	return s.Storage.Put(ctx, key, &trickle{r: r}, size)
}

type trickle struct {
	r    io.Reader
	said bool
}

func (t *trickle) Read(p []byte) (int, error) {
	if !t.said {
		t.said = true
		os.Stdout.WriteString("UPLOADING\n")
	}
	time.Sleep(20 * time.Millisecond)
	return t.r.Read(p[:min(len(p), 64<<10)]) // about 3 MB/s
}

// TestUploadHelperProcess is an uploader in a child process for TestKill9DuringUpload (a test
// cannot kill -9 itself); it does nothing in a normal run.
func TestUploadHelperProcess(t *testing.T) {
	if os.Getenv("CALLREC_UPLOAD_HELPER") != "1" {
		t.Skip("helper process only")
	}
	dir := os.Getenv("CALLREC_UPLOAD_DIR")
	store, err := models.Open(os.Getenv("CALLREC_UPLOAD_DB"))
	if err != nil {
		t.Fatal(err)
	}
	spool, err := files.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := files.NewS3(context.Background(), os.Getenv("CALLREC_UPLOAD_S3"), files.S3ConfigFromEnv(os.Getenv))
	if err != nil {
		t.Fatal(err)
	}
	st.PartSize = 5 << 20
	New(store, spool, slowStorage{st}, nil).Pass(context.Background())
	t.Fatal("the upload finished before the kill")
}

// TestKill9DuringUpload: the process is killed with SIGKILL in the middle of a multipart upload.
// Nothing is lost or half-stored: the spool copy is there, the recording still pending, no
// object under its key; the next start uploads it whole and drops the dead upload's parts.
func TestKill9DuringUpload(t *testing.T) {
	testtool.Short(t)
	f := newFixture(t)
	b := s3test.New(t)
	data := wav(4_000_000, 5) // 16 MB: four parts
	r := f.call(t, data)
	url := "s3://" + b.Name + "/node1"

	child := exec.Command(os.Args[0], "-test.run=^TestUploadHelperProcess$", "-test.v")
	child.Env = append(os.Environ(), "CALLREC_UPLOAD_HELPER=1", "CALLREC_UPLOAD_DIR="+f.dir, "CALLREC_UPLOAD_DB="+f.dsn, "CALLREC_UPLOAD_S3="+url)
	for k, v := range b.Env() {
		child.Env = append(child.Env, k+"="+v)
	}
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	lines := bufio.NewScanner(out)
	for lines.Scan() && !strings.Contains(lines.Text(), "UPLOADING") {
	}
	// Wait until parts are on the server, then kill.
	admin, err := b.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := "node1/" + r.Recording.Path
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := 0
		for u := range admin.ListIncompleteUploads(ctx, b.Name, key, true) {
			if u.Err != nil || u.Key != key {
				continue
			}
			parts, err := (minio.Core{Client: admin}).ListObjectParts(ctx, b.Name, key, u.UploadID, 0, 100)
			if err == nil {
				n += len(parts.ObjectParts)
			}
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no part uploaded within 30 s")
		}
	}
	child.Process.Kill()
	child.Wait()

	if _, err := f.spool.Stat(ctx, r.Recording.Path); err != nil {
		t.Fatalf("spool copy lost by the kill: %v", err)
	}
	if rec := f.recording(t, r.Recording.Path); rec.Storage == models.StorageStored {
		t.Fatal("marked stored after a killed upload")
	}
	if _, err := admin.StatObject(ctx, b.Name, key, minio.StatObjectOptions{}); err == nil {
		t.Fatal("a half upload is visible as an object")
	}

	st := storageOf(t, b)
	if err := New(f.store, f.spool, st, nil).Pass(ctx); err != nil {
		t.Fatal(err)
	}
	o, err := st.Open(ctx, r.Recording.Path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(o)
	o.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("stored recording differs after the restart")
	}
	if d := f.detail(t, r.Recording.Path); d.Storage != models.StorageStored || d.SHA256 != sum(data) {
		t.Errorf("after restart: %q %q", d.Storage, d.SHA256)
	}
	if _, err := f.spool.Stat(ctx, r.Recording.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("spool copy kept: %v", err)
	}
	for u := range admin.ListIncompleteUploads(ctx, b.Name, key, true) {
		if u.Err == nil {
			t.Errorf("the killed upload's parts stay: %s", u.UploadID)
		}
	}
}
