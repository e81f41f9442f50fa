package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"testing"

	"callrec/internal/s3test"
	"callrec/models/files"
)

// newS3Env is the panel with a bucket as its storage, seen with the data folder as the spool,
// as serve wires it for --storage s3://...
func newS3Env(t *testing.T) (*env, *files.S3) {
	t.Helper()
	b := s3test.New(t)
	st, err := files.NewS3(context.Background(), "s3://"+b.Name+"/node", files.S3ConfigFromEnv(func(k string) string { return b.Env()[k] }))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, func(c *Config) {
		spool, err := files.NewLocal(c.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { spool.Close() })
		c.Storage = files.NewSpooled(spool, st)
	})
	return e, st
}

// Announcements with a bucket as storage: an upload lands in the bucket (nothing stays in the
// data folder), plays from it, a second file of the same name gets its own key, and deleting
// removes the object.
func TestAnnouncementsInS3(t *testing.T) {
	e, st := newS3Env(t)
	tok := e.token(e.demo.Admin)
	ctx := context.Background()
	data := wavPCM16(8000, 1, 0.5)
	code, f, ae := e.upload(tok, "greeting.wav", data, nil)
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %+v", code, ae)
	}
	key := f.Folder + "/" + f.Name
	if i, err := st.Stat(ctx, key); err != nil || i.Size != int64(len(data)) {
		t.Fatalf("not in the bucket: %+v %v", i, err)
	}
	if names := e.annDir(); len(names) != 0 {
		t.Errorf("left in the data folder: %v", names)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/files/"+strconv.Itoa(int(f.ID))+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Range", "bytes=10-109")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[10:110]) {
		t.Fatalf("content from the bucket: %d, %d bytes", resp.StatusCode, len(got))
	}
	code, f2, _ := e.upload(tok, "greeting.wav", wavPCM16(8000, 1, 0.25), nil)
	if code != http.StatusCreated || f2.Name == f.Name {
		t.Fatalf("second upload of the same name: %d %q", code, f2.Name)
	}
	if i, err := st.Stat(ctx, key); err != nil || i.Size != int64(len(data)) {
		t.Fatalf("the first file was replaced: %+v %v", i, err)
	}
	if code := e.api(tok, http.MethodDelete, "/files/"+strconv.Itoa(int(f.ID)), nil, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if _, err := st.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("deleted file still in the bucket: %v", err)
	}
}
