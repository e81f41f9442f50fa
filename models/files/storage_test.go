package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"callrec/internal/s3test"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// backends runs a test against every Storage: the local folder and S3 on a real SeaweedFS.
func backends(t *testing.T, test func(t *testing.T, s Storage)) {
	t.Run("local", func(t *testing.T) {
		l, err := NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		test(t, l)
	})
	t.Run("s3", func(t *testing.T) {
		test(t, newS3(t, ""))
	})
}

func newS3(t *testing.T, prefix string) *S3 {
	t.Helper()
	b := s3test.New(t)
	u := "s3://" + b.Name
	if prefix != "" {
		u += "/" + prefix
	}
	s, err := NewS3(context.Background(), u, S3ConfigFromEnv(func(k string) string { return b.Env()[k] }))
	if err != nil {
		t.Fatal(err)
	}
	s.PartSize = 5 << 20 // S3's smallest, so a test's objects go multipart at a modest size
	return s
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, s Storage, key string, data []byte) Info {
	t.Helper()
	i, err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return i
}

func readAll(t *testing.T, s Storage, key string) []byte {
	t.Helper()
	o, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func TestStoragePutOpenStatDelete(t *testing.T) {
	backends(t, func(t *testing.T, s Storage) {
		ctx := context.Background()
		data := randomBytes(300_001, 1)
		i := put(t, s, "call_recording/1/2/rec.wav", data)
		sum := sha256.Sum256(data)
		if i.Key != "call_recording/1/2/rec.wav" || i.Size != int64(len(data)) || i.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("put info %+v", i)
		}
		if got := readAll(t, s, "call_recording/1/2/rec.wav"); !bytes.Equal(got, data) {
			t.Fatal("read back differs")
		}
		st, err := s.Stat(ctx, "call_recording/1/2/rec.wav")
		if err != nil || st.Size != int64(len(data)) || st.ModTime.IsZero() {
			t.Fatalf("stat %+v %v", st, err)
		}
		// Replacing gives the new content, whole.
		data2 := []byte("shorter")
		put(t, s, "call_recording/1/2/rec.wav", data2)
		if got := readAll(t, s, "call_recording/1/2/rec.wav"); !bytes.Equal(got, data2) {
			t.Fatalf("after replace %q", got)
		}
		// An empty object is an object.
		put(t, s, "announcements/1/empty.wav", nil)
		if st, err := s.Stat(ctx, "announcements/1/empty.wav"); err != nil || st.Size != 0 {
			t.Fatalf("empty: %+v %v", st, err)
		}
		if err := s.Delete(ctx, "call_recording/1/2/rec.wav"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, "call_recording/1/2/rec.wav"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("stat after delete: %v", err)
		}
		if _, err := s.Open(ctx, "call_recording/1/2/rec.wav"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("open after delete: %v", err)
		}
		if err := s.Delete(ctx, "call_recording/1/2/rec.wav"); err != nil {
			t.Fatalf("deleting what is gone: %v", err)
		}
		if _, err := s.Stat(ctx, "nothing/here.wav"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("stat missing: %v", err)
		}
	})
}

// A reader that gives fewer or more bytes than announced stores nothing and keeps what was there.
func TestStoragePutWrongSize(t *testing.T) {
	backends(t, func(t *testing.T, s Storage) {
		ctx := context.Background()
		put(t, s, "a/kept.wav", []byte("old"))
		for _, tc := range []struct {
			data []byte
			size int64
			want error
		}{{[]byte("ab"), 3, ErrShort}, {[]byte("abcd"), 3, ErrTooLarge}, {randomBytes(6<<20, 2), 6<<20 + 1, ErrShort}, {randomBytes(6<<20, 3), 6<<20 - 1, ErrTooLarge}} {
			if _, err := s.Put(ctx, "a/kept.wav", bytes.NewReader(tc.data), tc.size); !errors.Is(err, tc.want) {
				t.Errorf("%d bytes as %d: %v, want %v", len(tc.data), tc.size, err, tc.want)
			}
			if got := readAll(t, s, "a/kept.wav"); string(got) != "old" {
				t.Fatalf("a failed put changed the object: %d bytes", len(got))
			}
		}
		// A cancelled upload leaves nothing either.
		cctx, cancel := context.WithCancel(ctx)
		r := &cancelAfter{r: bytes.NewReader(randomBytes(12<<20, 4)), n: 7 << 20, cancel: cancel}
		if _, err := s.Put(cctx, "a/cancelled.wav", r, 12<<20); err == nil {
			t.Fatal("cancelled put succeeded")
		}
		if _, err := s.Stat(ctx, "a/cancelled.wav"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("cancelled put left an object: %v", err)
		}
		for i, err := range s.List(ctx, "", true) {
			if err != nil {
				t.Fatal(err)
			}
			if i.Key != "a/kept.wav" {
				t.Errorf("left behind: %+v", i)
			}
		}
	})
}

type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// Large objects (multipart on S3) arrive whole and are verified; every way of reading a range
// gives exactly those bytes.
func TestStorageRangedReads(t *testing.T) {
	backends(t, func(t *testing.T, s Storage) {
		ctx := context.Background()
		data := randomBytes(11<<20+12345, 5) // three parts of 5 MiB on S3
		i := put(t, s, "call_recording/9/8/big.wav", data)
		sum := sha256.Sum256(data)
		if i.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatal("checksum")
		}
		if s3, ok := s.(*S3); ok {
			// The server's ETag is S3's multipart form, so Put verified it without reading back.
			if want := multipartETag(data, s3.PartSize); i.ETag != want {
				t.Errorf("ETag %q, want %q", i.ETag, want)
			}
		}
		o, err := s.Open(ctx, "call_recording/9/8/big.wav")
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if o.Info().Size != int64(len(data)) {
			t.Fatalf("size %d", o.Info().Size)
		}
		// Seek and read, across read-ahead windows and to the end.
		for _, off := range []int64{0, 1, 256<<10 - 1, 5 << 20, int64(len(data)) - 10, int64(len(data)) - 1} {
			if _, err := o.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 600<<10)
			n, err := io.ReadFull(o, got)
			want := data[off:min(off+600<<10, int64(len(data)))]
			if (err != nil && err != io.ErrUnexpectedEOF) || !bytes.Equal(got[:n], want) {
				t.Fatalf("seek %d: %d bytes, %v", off, n, err)
			}
		}
		if n, err := o.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("read at end: %d %v", n, err)
		}
		if end, _ := o.Seek(0, io.SeekEnd); end != int64(len(data)) {
			t.Fatalf("seek end %d", end)
		}
		// ReadAt, also concurrently and out of order (as an SFTP server reads).
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for k := range 20 {
					off := int64((g*7919 + k*104729) * 1013 % len(data))
					p := make([]byte, 32<<10)
					n, err := o.ReadAt(p, off)
					want := data[off:min(off+32<<10, int64(len(data)))]
					if n != len(want) || !bytes.Equal(p[:n], want) || (n < len(p) && err != io.EOF) {
						t.Errorf("ReadAt %d: %d %v", off, n, err)
						return
					}
				}
			})
		}
		wg.Wait()
		if _, err := o.ReadAt(make([]byte, 1), int64(len(data))); err != io.EOF {
			t.Fatalf("ReadAt past the end: %v", err)
		}
		// The HTTP path the player uses: Range requests answered byte-identical.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			o, err := s.Open(r.Context(), "call_recording/9/8/big.wav")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			defer o.Close()
			http.ServeContent(w, r, "big.wav", o.Info().ModTime, o)
		}))
		defer srv.Close()
		for _, rg := range [][2]int64{{0, 0}, {100, 199}, {5<<20 - 3, 5<<20 + 3}, {int64(len(data)) - 2, int64(len(data)) - 1}, {0, int64(len(data)) - 1}} {
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[rg[0]:rg[1]+1]) {
				t.Fatalf("range %v: %d, %d bytes", rg, resp.StatusCode, len(body))
			}
		}
	})
}

func TestStorageList(t *testing.T) {
	backends(t, func(t *testing.T, s Storage) {
		ctx := context.Background()
		if s3, ok := s.(*S3); ok {
			s3.listPage = 2 // several pages, each merged in key order
		}
		for _, k := range []string{"call_recording/1/a.wav", "call_recording/1/b/c.wav", "call_recording/1.x", "call_recording/10/d.wav", "announcements/1/e.wav"} {
			put(t, s, k, []byte(k))
		}
		list := func(prefix string, rec bool) (out []string) {
			for i, err := range s.List(ctx, prefix, rec) {
				if err != nil {
					t.Fatal(err)
				}
				k := i.Key
				if i.Dir {
					k += "/"
				} else if i.Size != int64(len(i.Key)) {
					t.Errorf("%s: size %d", i.Key, i.Size)
				}
				out = append(out, k)
			}
			return out
		}
		if got, want := list("", true), []string{"announcements/1/e.wav", "call_recording/1.x", "call_recording/1/a.wav", "call_recording/1/b/c.wav", "call_recording/10/d.wav"}; !slices.Equal(got, want) {
			t.Errorf("all: %q", got)
		}
		// A folder prefix is a folder: call_recording/1 does not take call_recording/10 or 1.x.
		for _, p := range []string{"call_recording/1", "call_recording/1/"} {
			if got, want := list(p, true), []string{"call_recording/1/a.wav", "call_recording/1/b/c.wav"}; !slices.Equal(got, want) {
				t.Errorf("%s: %q", p, got)
			}
		}
		if got, want := list("call_recording/1", false), []string{"call_recording/1/a.wav", "call_recording/1/b/"}; !slices.Equal(got, want) {
			t.Errorf("one level: %q", got)
		}
		// Folders and objects of one level interleave in key order.
		put(t, s, "call_recording/1/c.wav", []byte("call_recording/1/c.wav"))
		put(t, s, "call_recording/1/b.wav", []byte("call_recording/1/b.wav"))
		if got, want := list("call_recording/1", false), []string{"call_recording/1/a.wav", "call_recording/1/b.wav", "call_recording/1/b/", "call_recording/1/c.wav"}; !slices.Equal(got, want) {
			t.Errorf("one level, interleaved: %q", got)
		}
		if got := list("call_recording/2", true); len(got) != 0 {
			t.Errorf("missing folder: %q", got)
		}
		if got := list("call_recording/1/a.wav", true); len(got) != 0 {
			t.Errorf("an object as a folder: %q", got)
		}
		// Stopping early is fine.
		for range s.List(ctx, "", true) {
			break
		}
	})
}

var badKeys = []string{"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", ".hidden", "a/.tmp", `a\b`, "a\x00b", "a/b/", ".", ".."}

func TestStorageRefusesBadKeys(t *testing.T) {
	backends(t, func(t *testing.T, s Storage) {
		ctx := context.Background()
		for _, k := range badKeys {
			if _, err := s.Put(ctx, k, strings.NewReader("x"), 1); !errors.Is(err, ErrBadPath) {
				t.Errorf("put %q: %v", k, err)
			}
			if _, err := s.Open(ctx, k); !errors.Is(err, ErrBadPath) {
				t.Errorf("open %q: %v", k, err)
			}
			if _, err := s.Stat(ctx, k); !errors.Is(err, ErrBadPath) {
				t.Errorf("stat %q: %v", k, err)
			}
			if err := s.Delete(ctx, k); !errors.Is(err, ErrBadPath) {
				t.Errorf("delete %q: %v", k, err)
			}
			if k != "" && k != "a/b/" {
				for _, err := range s.List(ctx, k, true) {
					if !errors.Is(err, ErrBadPath) {
						t.Errorf("list %q: %v", k, err)
					}
				}
			}
		}
	})
}

// A scope is one customer's part: its keys are relative, and nothing outside it can be named,
// opened, listed or deleted through it.
func TestStorageScope(t *testing.T) {
	backends(t, func(t *testing.T, s Storage) {
		ctx := context.Background()
		put(t, s, "call_recording/337826/p/mine.wav", []byte("mine"))
		put(t, s, "call_recording/3378260/p/other.wav", []byte("other"))
		put(t, s, "call_recording/1/p/other.wav", []byte("other"))
		put(t, s, "secret.txt", []byte("secret"))
		for _, p := range []string{"", "/", "..", "call_recording/../x", ".hidden"} {
			if _, err := Scope(s, p); !errors.Is(err, ErrBadPath) {
				t.Errorf("scope %q: %v", p, err)
			}
		}
		sc, err := Scope(s, "call_recording/337826")
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, sc, "p/mine.wav"); string(got) != "mine" {
			t.Fatalf("%q", got)
		}
		for _, k := range []string{"../1/p/other.wav", "../3378260/p/other.wav", "../../secret.txt", "/secret.txt", "p/../../1/p/other.wav"} {
			if _, err := sc.Open(ctx, k); err == nil {
				t.Errorf("scope opened %q", k)
			}
			if err := sc.Delete(ctx, k); err == nil {
				t.Errorf("scope deleted %q without error", k)
			}
		}
		var keys []string
		for i, err := range sc.List(ctx, "", true) {
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, i.Key)
		}
		if !slices.Equal(keys, []string{"p/mine.wav"}) {
			t.Errorf("scope lists %q", keys)
		}
		if o, err := sc.Open(ctx, "p/mine.wav"); err != nil || o.Info().Key != "p/mine.wav" {
			t.Errorf("scoped info %v", err)
		} else {
			o.Close()
		}
		i := put(t, sc, "p/new.wav", []byte("new"))
		if i.Key != "p/new.wav" {
			t.Errorf("scoped put key %q", i.Key)
		}
		if _, err := s.Stat(ctx, "call_recording/337826/p/new.wav"); err != nil {
			t.Errorf("scoped put landed elsewhere: %v", err)
		}
		sc2, _ := Scope(sc, "p")
		if got := readAll(t, sc2, "mine.wav"); string(got) != "mine" {
			t.Errorf("scope of a scope %q", got)
		}
		for _, k := range []string{"call_recording/1/p/other.wav", "call_recording/3378260/p/other.wav", "secret.txt"} {
			if _, err := s.Stat(ctx, k); err != nil {
				t.Errorf("%s gone: %v", k, err)
			}
		}
	})
}
