package enginestore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"callrec/calls"
	"callrec/internal/s3test"
	"callrec/media/prompts"
	"callrec/models"
	"callrec/models/files"
)

// With a bucket as storage the engine plays an uploaded announcement from its local copy (by
// content hash), and the standard prompt once the object is gone and no copy was ever made.
func TestRoutePlaysAnnouncementsFromTheBucket(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b := s3test.New(t)
	st, err := files.NewS3(ctx, "s3://"+b.Name, files.S3ConfigFromEnv(func(k string) string { return b.Env()[k] }))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.BookCallRecording(ctx, f.admin, f.pool.ID, models.BookingInput{Accepted: true,
		Notice: models.LegalNotice{Text: "notice", Language: "de"}}); err != nil {
		t.Fatal(err)
	}
	c, err := f.store.AnnouncementCustomer(ctx, f.admin, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := prompts.WAV(string(calls.SlotCalleeWhisper), "en")
	file := &models.File{Name: "hello.wav", Path: models.AnnouncementFolder(c.SubscriberID) + "/hello.wav", Ready: true}
	if _, err := st.Put(ctx, file.Path, bytes.NewReader(want), int64(len(want))); err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateAnnouncementFile(ctx, f.admin, "", c, file, "file.uploaded"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.SetAnnouncement(ctx, f.admin, "", f.pool.ID, models.SlotCallerNotice,
		models.AnnouncementChange{Source: models.SourceFile, FileID: file.ID}); err != nil {
		t.Fatal(err)
	}
	cache, err := files.NewPromptCache(filepath.Join(f.dir, "prompt-cache"), st)
	if err != nil {
		t.Fatal(err)
	}
	d := Directory{Store: f.store, DataDir: f.dir, Prompts: cache}
	r, err := d.Route(ctx, "4971121843140")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(r.Recording.Prompts.CallerNotice)
	if filepath.Dir(r.Recording.Prompts.CallerNotice) != filepath.Join(f.dir, "prompt-cache") || !bytes.Equal(got, want) {
		t.Fatalf("caller notice %q: %d bytes, want the upload's copy", r.Recording.Prompts.CallerNotice, len(got))
	}
	// Another announcement never fetched, gone from the bucket: the standard prompt.
	other := &models.File{Name: "gone.wav", Path: models.AnnouncementFolder(c.SubscriberID) + "/gone.wav", Ready: true}
	if err := f.store.CreateAnnouncementFile(ctx, f.admin, "", c, other, "file.uploaded"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.SetAnnouncement(ctx, f.admin, "", f.pool.ID, models.SlotCallerNotice,
		models.AnnouncementChange{Source: models.SourceFile, FileID: other.ID}); err != nil {
		t.Fatal(err)
	}
	r, err = d.Route(ctx, "4971121843140")
	if want := DefaultPromptPath(f.dir, calls.SlotCallerNotice, "de"); err != nil || r.Recording.Prompts.CallerNotice != want {
		t.Errorf("caller notice %q (%v), want the standard prompt %q", r.Recording.Prompts.CallerNotice, err, want)
	}
}
