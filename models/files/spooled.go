package files

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"iter"
)

// Spooled is the view of recordings a node serves: the storage, plus the recordings still in
// the node's spool (being written, or waiting for their upload). The uploader removes a spool
// copy only after the storage holds it, so every recording is in one of the two; reads try
// the spool first (a recording being recorded is played from there), deletes remove both.
type Spooled struct {
	Spool   *Local
	Storage Storage
}

// NewSpooled is the view of spool and storage; when the storage is the spool itself it is
// just that.
func NewSpooled(spool *Local, storage Storage) Storage {
	if storage == Storage(spool) {
		return spool
	}
	return &Spooled{Spool: spool, Storage: storage}
}

func (s *Spooled) String() string { return s.Storage.String() + " with spool " + s.Spool.String() }

// Put writes into the storage (announcements; recordings arrive through the spool).
func (s *Spooled) Put(ctx context.Context, key string, r io.Reader, size int64) (Info, error) {
	return s.Storage.Put(ctx, key, r, size)
}

func (s *Spooled) Open(ctx context.Context, key string) (Object, error) {
	o, err := s.Spool.Open(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return s.Storage.Open(ctx, key)
	}
	return o, err
}

func (s *Spooled) Stat(ctx context.Context, key string) (Info, error) {
	i, err := s.Spool.Stat(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return s.Storage.Stat(ctx, key)
	}
	return i, err
}

// Delete removes the object from the storage first, then from the spool: a failure of the
// storage leaves both, so the deletion can be retried and nothing is half gone.
func (s *Spooled) Delete(ctx context.Context, key string) error {
	if err := s.Storage.Delete(ctx, key); err != nil {
		return err
	}
	return s.Spool.Delete(ctx, key)
}

// List merges both listings in key order; a key in both (uploaded, its spool copy not yet
// removed) is listed once, as the spool has it.
func (s *Spooled) List(ctx context.Context, prefix string, recursive bool) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		nextA, stopA := iter.Pull2(s.Spool.List(ctx, prefix, recursive))
		defer stopA()
		nextB, stopB := iter.Pull2(s.Storage.List(ctx, prefix, recursive))
		defer stopB()
		a, errA, okA := nextA()
		b, errB, okB := nextB()
		for okA || okB {
			if okA && errA != nil {
				yield(Info{}, errA)
				return
			}
			if okB && errB != nil {
				yield(Info{}, errB)
				return
			}
			switch {
			case okA && (!okB || sortKey(a) < sortKey(b)):
				if !yield(a, nil) {
					return
				}
				a, errA, okA = nextA()
			case okB && (!okA || sortKey(b) < sortKey(a)):
				if !yield(b, nil) {
					return
				}
				b, errB, okB = nextB()
			default: // the same key in both
				if !yield(a, nil) {
					return
				}
				a, errA, okA = nextA()
				b, errB, okB = nextB()
			}
		}
	}
}

// sortKey orders a folder as its objects' keys do: by its name plus "/".
func sortKey(i Info) string {
	if i.Dir {
		return i.Key + "/"
	}
	return i.Key
}
