package recorder

// Making a Recorder and its file: Create and Open name the file in its folder (never outside
// the root), OpenClaimed skips names another node holds, New records to memory.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Create is New and Open in one: a recorder with its file.
func Create(root *os.Root, dir, base string, opt Options) (*Recorder, string, error) {
	r := New(opt)
	rel, err := r.Open(root, dir, base)
	if err != nil {
		return nil, "", err
	}
	return r, rel, nil
}

// Open makes the folder dir inside root (MkdirAll) and a new file dir/base.wav in it; when
// that name exists, base_2.wav, base_3.wav and so on (O_EXCL, so two calls never share a
// file). It returns the slash-separated path relative to root. The header is on disk when
// Open returns, so the file is a valid empty WAV from the start; audio Put and taken before
// Open follows it. A recorder whose Open failed takes no second one: drop it.
func (r *Recorder) Open(root *os.Root, dir, base string) (string, error) {
	return r.OpenClaimed(root, dir, base, nil)
}

// OpenClaimed is Open where a name free in root is taken only when claim (when not nil) agrees
// too: a name another node of a cluster holds is skipped like one that exists here.
func (r *Recorder) OpenClaimed(root *os.Root, dir, base string, claim func(rel string) bool) (string, error) {
	if base == "" || strings.ContainsAny(base, `/\`) || base == "." || base == ".." {
		return "", fmt.Errorf("recorder: bad file name %q", base)
	}
	dir = filepath.ToSlash(dir)
	if dir == "" {
		dir = "."
	}
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("recorder: %w", err)
	}
	for i := 1; i <= 10000; i++ {
		name := base + ".wav"
		if i > 1 {
			name = base + "_" + strconv.Itoa(i) + ".wav"
		}
		rel := path.Join(dir, name)
		f, err := root.OpenFile(rel, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("recorder: %w", err)
		}
		if claim != nil && !claim(rel) {
			f.Close()
			root.Remove(rel)
			continue
		}
		if err := r.attach(fileSink(f, rel)); err != nil {
			f.Close()
			root.Remove(rel)
			return "", err
		}
		return rel, nil
	}
	return "", fmt.Errorf("recorder: no free name for %s in %s", base, dir)
}

// New makes a recorder without a file: it takes Puts at once, and Open gives it its file
// (so the disk is touched outside whatever lock the caller holds while packets flow).
func New(opt Options) *Recorder {
	if opt.Start.IsZero() {
		opt.Start = time.Now()
	}
	if opt.Delay <= 0 {
		opt.Delay = 120 * time.Millisecond
	}
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = time.Second
	}
	channels := 1
	if opt.Stereo {
		channels = 2
	}
	r := &Recorder{
		start:       opt.Start,
		delay:       min(opt.Delay, time.Second), // the ring holds Delay plus the jump tolerance
		channels:    channels,
		flushFrames: max(durationToFrames(opt.FlushEvery), 1),
		active:      !opt.Inactive,
		writeOn:     !opt.Inactive,
		pending:     make([]transition, 0, 8),
		cutTo:       -1,
		dirty:       noDirty,
		done:        make(chan struct{}),
	}
	r.ringLen = ringStart
	for i := range r.dir {
		r.dir[i].lastArr, r.dir[i].firstArr = -1, -1
		r.dir[i].ring = make([]int16, ringStart)
	}
	return r
}
