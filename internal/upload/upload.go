// Package upload moves finished recordings from the node's spool into the storage. The engine
// writes every recording crash-safe into the local data folder (the spool), never waiting for
// the network; when a call has ended, the uploader puts the file into the storage, checks it
// (size, and a checksum: files.Storage.Put verifies what it stored), marks the recording stored
// in the database and only then removes the spool copy. A failed upload keeps the spool copy and
// is retried with backoff; whatever a crash left pending is taken up at the next start.
package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"callrec/models"
	"callrec/models/files"
)

// Uploader runs the uploads of one node.
type Uploader struct {
	store   *models.Store
	spool   *files.Local
	storage files.Storage
	log     *slog.Logger

	// Retry is the wait before the n-th retry (n from 1) after a failure: doubling from one
	// second, at most five minutes, with some jitter so many nodes do not retry in step.
	Retry func(n int) time.Duration
	// Poll is how often the database is checked without a Kick (a call ended on a node that
	// crashed before kicking, a failure whose wait is over).
	Poll time.Duration
	// Observe, when set, is told how long each attempt to store a recording took and how it
	// ended (the metrics).
	Observe func(d time.Duration, err error)

	kick chan struct{}

	mu      sync.Mutex
	retryAt map[uint]time.Time // recordings waiting out a failure of their own
	down    int                // consecutive passes the storage failed
	stored  int64              // recordings stored since start (for tests and logs)
}

// New makes an uploader from spool to storage. When storage is the spool itself (the data
// folder is the storage), uploading is only checksumming and marking the recording stored.
func New(store *models.Store, spool *files.Local, storage files.Storage, log *slog.Logger) *Uploader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Uploader{store: store, spool: spool, storage: storage, log: log, Retry: Backoff, Poll: 30 * time.Second,
		kick: make(chan struct{}, 1), retryAt: map[uint]time.Time{}}
}

// Backoff is the default Retry.
func Backoff(n int) time.Duration {
	d := time.Second << min(n-1, 9)
	d = min(d, 5*time.Minute)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// Kick asks for a pass soon (a recording has been finished). It never blocks.
func (u *Uploader) Kick() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Stored is how many recordings this uploader has stored.
func (u *Uploader) Stored() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stored
}

// Run uploads until ctx ends: a pass at once (what a crash left), then after every Kick and
// every Poll; while the storage fails, passes wait out the backoff and Kicks do not hurry them.
func (u *Uploader) Run(ctx context.Context) {
	for {
		err := u.Pass(ctx)
		wait := u.Poll
		u.mu.Lock()
		if err != nil {
			u.down++
			wait = u.Retry(u.down)
			u.log.Warn("storage unavailable, recordings stay in the spool", "storage", u.storage.String(), "retry in", wait.Round(time.Second), "err", err)
		} else {
			u.down = 0
		}
		down := u.down
		u.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-u.kick:
			if down > 0 {
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
		case <-t.C:
		}
		t.Stop()
	}
}

// errStorage marks a failure of the storage (not of one recording): the pass stops, and the
// next one waits out the backoff.
type errStorage struct{ err error }

func (e errStorage) Error() string { return e.err.Error() }
func (e errStorage) Unwrap() error { return e.err }

// Pass uploads every pending recording that is not waiting out a failure of its own. It returns
// an error only when the storage failed (the pass then stops: the next recordings would fail too).
func (u *Uploader) Pass(ctx context.Context) error {
	var after uint
	for ctx.Err() == nil {
		recs, err := u.store.PendingUploads(ctx, after, 100)
		if err != nil {
			return nil // the database is away: the next poll tries again, the spool keeps the files
		}
		for _, r := range recs {
			after = r.ID
			u.mu.Lock()
			at, waiting := u.retryAt[r.ID]
			u.mu.Unlock()
			if waiting && time.Now().Before(at) {
				continue
			}
			start := time.Now()
			err := u.one(ctx, r)
			if ctx.Err() != nil {
				return nil // stopping: the recording stays pending for the next start
			}
			if u.Observe != nil {
				u.Observe(time.Since(start), err)
			}
			if err != nil {
				u.failed(ctx, r, err)
				var es errStorage
				if errors.As(err, &es) {
					return err
				}
				continue
			}
			u.mu.Lock()
			delete(u.retryAt, r.ID)
			u.stored++
			u.mu.Unlock()
		}
		if len(recs) < 100 {
			return nil
		}
	}
	return nil
}

func (u *Uploader) failed(ctx context.Context, r models.Recording, err error) {
	n := r.StoreAttempts + 1
	wait := u.Retry(n)
	u.mu.Lock()
	u.retryAt[r.ID] = time.Now().Add(wait)
	u.mu.Unlock()
	u.log.Warn("recording not stored yet, kept in the spool", "path", r.Path, "attempt", n, "retry in", wait.Round(time.Second), "err", err)
	if err := u.store.MarkStoreFailed(context.WithoutCancel(ctx), r.ID, err.Error()); err != nil {
		u.log.Error("recording the failed upload", "path", r.Path, "err", err)
	}
}

// one stores one recording: peaks and upload from the spool copy, mark stored, remove the copy.
func (u *Uploader) one(ctx context.Context, r models.Recording) error {
	f, err := u.spool.Open(ctx, r.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return u.missing(ctx, r)
	}
	if err != nil {
		return fmt.Errorf("opening the spool copy: %w", err)
	}
	defer f.Close()
	size := f.Info().Size
	peaks, err := files.LanePeaks(f, size, files.PeakBuckets)
	if err != nil {
		peaks = nil // not a WAV the waveform can be drawn from; still stored
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	start := time.Now()
	var sum string
	if u.storage == files.Storage(u.spool) {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("reading %s: %w", r.Path, err)
		}
		sum = hex.EncodeToString(h.Sum(nil))
	} else {
		info, err := u.storage.Put(ctx, r.Path, f, size)
		if err != nil {
			return errStorage{err}
		}
		if info.Size != size || info.SHA256 == "" {
			return errStorage{fmt.Errorf("storage answered %d bytes for %s, the spool copy has %d", info.Size, r.Path, size)}
		}
		sum = info.SHA256
	}
	if err := u.store.MarkStored(ctx, r.ID, size, sum, peaks); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			// Deleted while it was uploading: what was uploaded must go too.
			return u.remove(ctx, r.Path, true)
		}
		return err
	}
	if u.storage != files.Storage(u.spool) {
		if err := u.remove(ctx, r.Path, false); err != nil {
			u.log.Warn("removing the spool copy of a stored recording", "path", r.Path, "err", err)
		}
	}
	u.log.Info("recording stored", "path", r.Path, "bytes", size, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// missing handles a pending recording without a spool copy: stored already (by a run that
// crashed between upload and marking), or lost, which is said once and not retried quickly.
func (u *Uploader) missing(ctx context.Context, r models.Recording) error {
	st, err := u.storage.Stat(ctx, r.Path)
	if err == nil && st.Size == r.Size {
		return u.store.MarkStored(ctx, r.ID, st.Size, "", nil)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errStorage{err}
	}
	return fmt.Errorf("the spool copy of %s is missing and the storage does not hold it", r.Path)
}

func (u *Uploader) remove(ctx context.Context, key string, remote bool) error {
	if remote && u.storage != files.Storage(u.spool) {
		if err := u.storage.Delete(ctx, key); err != nil {
			return errStorage{err}
		}
	}
	return u.spool.Delete(ctx, key)
}
