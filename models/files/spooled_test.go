package files

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"testing"
	"time"
)

// The node's view reads the spool first, then the storage; lists both once; deletes from both.
func TestSpooled(t *testing.T) {
	spool, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	remote := newS3(t, "node")
	v := NewSpooled(spool, remote)
	ctx := context.Background()
	put(t, remote, "r/1.wav", []byte("stored"))
	put(t, spool, "r/2.wav", []byte("spooled"))
	put(t, remote, "r/3.wav", []byte("both, stored"))
	put(t, spool, "r/3.wav", []byte("both, spool"))
	put(t, remote, "r/sub/4.wav", []byte("sub"))
	for k, want := range map[string]string{"r/1.wav": "stored", "r/2.wav": "spooled", "r/3.wav": "both, spool"} {
		if got := readAll(t, v, k); string(got) != want {
			t.Errorf("%s: %q", k, got)
		}
	}
	var keys []string
	for i, err := range v.List(ctx, "r", false) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, sortKey(i))
	}
	if want := []string{"r/1.wav", "r/2.wav", "r/3.wav", "r/sub/"}; !slices.Equal(keys, want) {
		t.Errorf("list %q", keys)
	}
	for _, k := range []string{"r/1.wav", "r/2.wav", "r/3.wav"} {
		if err := v.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Stat(ctx, k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after delete: %v", k, err)
		}
	}
	if NewSpooled(spool, spool) != Storage(spool) {
		t.Error("the data folder as storage is not just the folder")
	}
}

// The engine's prompt copies: fetched once per content, fetched anew when the announcement is
// replaced, and the last copy kept while the storage is away.
func TestPromptCache(t *testing.T) {
	ctx := context.Background()
	t.Run("s3", func(t *testing.T) {
		remote := newS3(t, "")
		c, err := NewPromptCache(t.TempDir(), remote)
		if err != nil {
			t.Fatal(err)
		}
		put(t, remote, "announcements/1/a.wav", []byte("first"))
		p1, err := c.Path(ctx, "announcements/1/a.wav")
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p1); string(b) != "first" {
			t.Fatalf("%q", b)
		}
		put(t, remote, "announcements/1/a.wav", []byte("second"))
		if p, _ := c.Path(ctx, "announcements/1/a.wav"); p != p1 {
			t.Error("asked the storage again before Recheck")
		}
		c.Recheck = 0
		p2, err := c.Path(ctx, "announcements/1/a.wav")
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p2); p2 == p1 || string(b) != "second" {
			t.Fatalf("replaced announcement: %s %q", p2, b)
		}
		// Deleted and uploaded again under its name (a new version, as its database row
		// says): fetched at once, within Recheck.
		c.Recheck = time.Hour
		put(t, remote, "announcements/1/a.wav", []byte("third"))
		if p, _ := c.Path(ctx, "announcements/1/a.wav"); p != p2 {
			t.Error("asked the storage again before Recheck")
		}
		p3, err := c.PathOf(ctx, "announcements/1/a.wav", "row-2")
		if b, _ := os.ReadFile(p3); err != nil || p3 == p2 || string(b) != "third" {
			t.Fatalf("a new version within Recheck: %s %q %v", p3, b, err)
		}
		if p, _ := c.PathOf(ctx, "announcements/1/a.wav", "row-2"); p != p3 {
			t.Error("the same version asked the storage again before Recheck")
		}
		put(t, remote, "announcements/1/a.wav", []byte("second"))
		c.Recheck = 0
		if p, _ := c.Path(ctx, "announcements/1/a.wav"); p != p2 {
			t.Fatalf("back to the second content: %s", p)
		}
		// Same content under another key: the same copy.
		put(t, remote, "announcements/1/b.wav", []byte("second"))
		if p, _ := c.Path(ctx, "announcements/1/b.wav"); p != p2 {
			t.Errorf("same content, another copy: %s", p)
		}
		// The storage away: the last copy.
		c.storage = deadStorage{remote}
		if p, err := c.Path(ctx, "announcements/1/a.wav"); err != nil || p != p2 {
			t.Errorf("storage away: %s %v", p, err)
		}
		if _, err := c.Path(ctx, "announcements/1/never.wav"); err == nil {
			t.Error("a prompt never seen came from a dead storage")
		}
	})
	t.Run("local", func(t *testing.T) {
		dir := t.TempDir()
		l, _ := NewLocal(dir)
		defer l.Close()
		c, err := NewPromptCache(t.TempDir(), l)
		if err != nil {
			t.Fatal(err)
		}
		put(t, l, "announcements/1/a.wav", []byte("here"))
		p, err := c.Path(ctx, "announcements/1/a.wav")
		if err != nil || p != dir+"/announcements/1/a.wav" {
			t.Errorf("in place: %s %v", p, err)
		}
		if _, err := c.Path(ctx, "../x"); err == nil {
			t.Error("bad key")
		}
	})
}

type deadStorage struct{ Storage }

func (deadStorage) Stat(context.Context, string) (Info, error) {
	return Info{}, errors.New("connection refused")
}
