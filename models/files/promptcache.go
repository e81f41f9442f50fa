package files

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// PromptCache gives the engine a local file for an announcement kept in the storage: the
// engine plays files from disk and must not wait for the network while a caller listens. A
// copy is named by the object's content hash (the ETag S3 gives an object stored in one PUT is
// its MD5, checked here after the download), so a replaced announcement is fetched anew and
// an unchanged one never again. While the storage is away, the copy last seen is used.
type PromptCache struct {
	dir     string
	storage Storage
	local   *Local // when the storage is the data folder: its files are played in place
	// Recheck is how long an object's hash is trusted before the storage is asked again.
	Recheck time.Duration

	mu    sync.Mutex
	known map[string]cached
}

type cached struct {
	path    string
	version string
	checked time.Time
}

// NewPromptCache keeps copies in dir for objects of storage.
func NewPromptCache(dir string, storage Storage) (*PromptCache, error) {
	c := &PromptCache{dir: dir, storage: storage, Recheck: time.Minute, known: map[string]cached{}}
	if l, ok := storage.(*Local); ok {
		c.local = l
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	return c, nil
}

var md5Hex = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Path returns a local file holding the object key.
func (c *PromptCache) Path(ctx context.Context, key string) (string, error) {
	return c.PathOf(ctx, key, "")
}

// PathOf is Path for the version of key the caller knows of (an announcement file's database
// row): a copy checked for another version is not trusted, however recent the check. A file
// deleted and uploaded again under its name is one key with new content, uploaded on one node
// and played on another a moment later; the new row says so before Recheck would.
func (c *PromptCache) PathOf(ctx context.Context, key, version string) (string, error) {
	if c.local != nil {
		if _, err := c.local.Stat(ctx, key); err != nil {
			return "", err
		}
		return filepath.Join(c.local.dir, filepath.FromSlash(key)), nil
	}
	c.mu.Lock()
	k, ok := c.known[key]
	c.mu.Unlock()
	if ok && k.version == version && time.Since(k.checked) < c.Recheck {
		return k.path, nil
	}
	info, err := c.storage.Stat(ctx, key)
	if err != nil {
		if ok {
			return k.path, nil // the storage is away: the copy we have is what was last there
		}
		return "", err
	}
	id := strings.ToLower(info.ETag)
	if id == "" {
		id = fmt.Sprintf("%d-%d", info.Size, info.ModTime.UnixNano())
	}
	name := sha256.Sum256([]byte(id))
	p := filepath.Join(c.dir, hex.EncodeToString(name[:16])+filepath.Ext(key))
	if st, err := os.Stat(p); err != nil || st.Size() != info.Size {
		if err := c.fetch(ctx, key, info, p); err != nil {
			if ok {
				return k.path, nil
			}
			return "", err
		}
	}
	c.mu.Lock()
	c.known[key] = cached{path: p, version: version, checked: time.Now()}
	c.mu.Unlock()
	return p, nil
}

// fetch downloads key into p (through a temporary file: the engine may be playing an older
// copy, and never sees a half one) and checks its size and, when the ETag is an MD5, its content.
func (c *PromptCache) fetch(ctx context.Context, key string, info Info, p string) error {
	o, err := c.storage.Open(ctx, key)
	if err != nil {
		return err
	}
	defer o.Close()
	tmp, err := os.CreateTemp(c.dir, ".fetch-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), o)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != info.Size || (o.Info().ETag != "" && o.Info().ETag != info.ETag) {
		return errors.New("files: announcement changed while it was fetched")
	}
	if e := strings.ToLower(info.ETag); md5Hex.MatchString(e) && hex.EncodeToString(h.Sum(nil)) != e {
		return fmt.Errorf("files: %s fetched with MD5 %x, the storage says %s", key, h.Sum(nil), e)
	}
	return os.Rename(tmp.Name(), p)
}
