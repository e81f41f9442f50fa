package enginestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"callrec/media"
	"callrec/models"
)

// Sink persists the engine's call events on one writer goroutine, so the engine's signalling
// never waits for the database, and forwards each event, once saved, to the live pages.
//
// A save that fails is kept and retried with backoff (up to retryMax apart) until it succeeds:
// while the database is away (restarting, unreachable) calls go on, their events queue here, and
// everything is stored when it is back. A call's snapshot holds all of its state so far, so a
// call waiting to be saved keeps only its newest snapshot. Events that arrive while saves are
// failing join the wait without trying the database, so a database that takes long to refuse
// (a lost host's connect timeout) never slows the queue. If the process is asked to stop while
// the database is still away, the waiting snapshots are written to Pending and saved at the next
// start.
type Sink struct {
	store *models.Store
	live  Live
	log   *slog.Logger
	queue chan sinkItem
	done  chan struct{}
	// mu guards closed: an event that arrives after Close (a call the engine ended late) is
	// logged and dropped instead of a send on the closed queue.
	mu     sync.RWMutex
	closed bool
	// fromPending: Start found events in Pending; the file goes once they are saved.
	fromPending bool
	// Pending is the file that keeps unsaved snapshots across a stop ("" keeps them nowhere).
	Pending string
	// CloseWait bounds how long Close keeps retrying before it writes Pending (default 10 s).
	CloseWait time.Duration
}

// Live is who hears about a call after it is saved (the web server's Live calls pages).
type Live interface {
	CallChanged(media.CallInfo)
	CallEnded(media.CallInfo)
}

type sinkItem struct {
	C     media.CallInfo `json:"call"`
	Ended bool           `json:"ended"`
}

const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
	// otherTries is how often a save that failed for another reason than the database being
	// away (a bug, a constraint) is tried before the snapshot is given up, loudly.
	otherTries = 5
)

// NewSink makes a sink; events it receives wait in its queue until Start.
func NewSink(log *slog.Logger) *Sink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sink{log: log, queue: make(chan sinkItem, 4096), done: make(chan struct{})}
}

// Start begins saving events to store and forwarding them to live (which may be nil); the
// snapshots a previous run left in Pending are saved first. The engine must not run before Start: a
// full queue would block its signalling.
func (s *Sink) Start(store *models.Store, live Live) {
	s.store, s.live = store, live
	w := newWaiting()
	if s.Pending != "" {
		if b, err := os.ReadFile(s.Pending); err == nil {
			var items []sinkItem
			if err := json.Unmarshal(b, &items); err != nil {
				s.log.Error("unreadable file of unsaved call events, kept for inspection", "file", s.Pending, "err", err)
			} else {
				for _, it := range items {
					w.add(it)
				}
				s.fromPending = true
				s.log.Warn("saving calls left unsaved by the last stop", "calls", len(items))
			}
		}
	}
	go s.loop(w)
}

// CallChanged queues a state change of a call.
func (s *Sink) CallChanged(_ context.Context, c media.CallInfo) { s.send(sinkItem{C: c}) }

// CallEnded queues the final state of a call.
func (s *Sink) CallEnded(_ context.Context, c media.CallInfo) { s.send(sinkItem{C: c, Ended: true}) }

func (s *Sink) send(it sinkItem) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.log.Error("call event after the sink closed: not saved", "call", it.C.ID, "state", it.C.State)
		return
	}
	s.queue <- it
}

// Close waits until every queued event is stored, or written to Pending when the database
// stays away longer than CloseWait. The engine must have stopped.
func (s *Sink) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.mu.Unlock()
	<-s.done
}

// waiting are the snapshots not saved yet, newest per call, in the order their calls first
// waited; tries counts failed saves per call.
type waiting struct {
	items map[string]sinkItem
	order []string
	tries map[string]int
}

func newWaiting() *waiting {
	return &waiting{items: map[string]sinkItem{}, tries: map[string]int{}}
}

func (w *waiting) add(it sinkItem) {
	old, ok := w.items[it.C.ID]
	if !ok {
		w.order = append(w.order, it.C.ID)
	}
	it.Ended = it.Ended || old.Ended // a call that ended stays ended
	w.items[it.C.ID] = it
}

func (w *waiting) remove(id string) {
	delete(w.items, id)
	delete(w.tries, id)
	w.order = slices.DeleteFunc(w.order, func(o string) bool { return o == id })
}

func (s *Sink) loop(w *waiting) {
	defer close(s.done)
	backoff := retryFirst
	var retry <-chan time.Time
	failing := len(w.items) > 0 // a previous run's events: saved first
	if failing {
		retry = time.After(0)
	}
	for {
		select {
		case it, ok := <-s.queue:
			closed := !ok
			if ok {
				w.add(it)
				closed = s.drain(w)
			}
			if !failing && !s.flush(w) {
				failing, backoff, retry = true, retryFirst, time.After(retryFirst)
			}
			if closed {
				s.finish(w)
				return
			}
		case <-retry:
			if s.flush(w) {
				s.log.Info("waiting call events saved")
				failing, backoff, retry = false, retryFirst, nil
				continue
			}
			backoff = min(2*backoff, retryMax)
			retry = time.After(backoff)
		}
	}
}

// drainMax bounds how many queued events one round takes before saving.
const drainMax = 1024

// drain moves what else is queued into w, so that a call's older snapshots still in the queue
// are never saved once a newer one is there (when saving falls behind, it catches up with
// fewer saves). It reports whether the queue was closed.
func (s *Sink) drain(w *waiting) bool {
	for range drainMax {
		select {
		case it, ok := <-s.queue:
			if !ok {
				return true
			}
			w.add(it)
		default:
			return false
		}
	}
	return false
}

// flush saves the waiting snapshots in order until one fails (the database away, or another
// error up to otherTries times); it reports whether none is left.
func (s *Sink) flush(w *waiting) bool {
	for len(w.order) > 0 {
		id := w.order[0]
		it := w.items[id]
		err := s.save(it)
		if err == nil {
			w.remove(id)
			continue
		}
		if s.store.Unavailable(err) {
			s.log.Warn("database unavailable: call events wait and are retried", "calls", len(w.order), "err", err)
			return false
		}
		w.tries[id]++
		if w.tries[id] >= otherTries {
			s.log.Error("giving up saving a call", "call", id, "tries", w.tries[id], "err", err)
			w.remove(id)
			continue
		}
		s.log.Error("saving call", "call", id, "err", err)
		return false
	}
	if s.fromPending { // what the last stop left in Pending is stored now
		s.fromPending = false
		if err := os.Remove(s.Pending); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Error("removing the file of unsaved call events", "file", s.Pending, "err", err)
		}
	}
	return true
}

// save stores one snapshot and tells the live pages.
func (s *Sink) save(it sinkItem) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.store.SaveCall(ctx, CallRecord(it.C, it.Ended)); err != nil {
		return err
	}
	if s.live != nil {
		if it.Ended {
			s.live.CallEnded(it.C)
		} else {
			s.live.CallChanged(it.C)
		}
	}
	return nil
}

// finish runs at Close: it retries what waits for up to CloseWait, then writes what is still
// unsaved to Pending.
func (s *Sink) finish(w *waiting) {
	wait := s.CloseWait
	if wait == 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	for backoff := retryFirst; len(w.items) > 0 && !s.flush(w) && time.Now().Before(deadline); backoff = min(2*backoff, retryMax) {
		time.Sleep(min(backoff, time.Until(deadline)))
	}
	if s.Pending == "" {
		if len(w.items) > 0 {
			s.log.Error("calls not saved: the database stayed away and there is no Pending file", "calls", len(w.items))
		}
		return
	}
	if len(w.items) == 0 {
		if err := os.Remove(s.Pending); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Error("removing the file of unsaved call events", "file", s.Pending, "err", err)
		}
		return
	}
	items := make([]sinkItem, 0, len(w.order))
	for _, id := range w.order {
		items = append(items, w.items[id])
	}
	b, err := json.Marshal(items)
	if err == nil {
		err = writeFileAtomic(s.Pending, b)
	}
	if err != nil {
		s.log.Error("calls not saved and not written to a file", "calls", len(items), "file", s.Pending, "err", err)
		return
	}
	s.log.Warn("database unavailable at stop: call events written to a file, saved at the next start", "calls", len(items), "file", s.Pending)
}

// writeFileAtomic writes b to path through a temporary file, so a crash leaves the old or the
// new content, never half of it.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CallRecord translates the engine's snapshot into the store's record; final marks the
// snapshot of CallEnded.
func CallRecord(c media.CallInfo, final bool) models.CallRecord {
	r := models.CallRecord{
		EngineID: c.ID, CustomerID: c.CustomerID, PoolID: c.PoolID, SubscriberID: c.SubscriberID, StartNumber: c.StartNumber,
		A: c.A, B: c.B, C: c.C, Diversion: c.Diversion, HistoryInfo: c.HistoryInfo, Arrival: c.Arrival, Answered: c.Answered, Bridged: c.Bridged, Ended: c.Ended,
		State: c.State, RecState: c.Rec, Mode: c.Mode, Outcome: c.Outcome, Recorded: c.Recorded, Segments: c.Segments,
	}
	for _, e := range c.Events {
		r.Events = append(r.Events, models.CallEventRecord{At: e.At, Kind: e.Kind, By: e.By, Detail: e.Detail})
	}
	if c.Recording != nil {
		r.Recording = &models.RecordingRecord{Path: c.Recording.Path, Channels: c.Recording.Channels, Size: c.Recording.Size,
			Duration: c.Recording.Duration, Recorded: c.Recording.Recorded, Failed: c.Recording.Failed, Final: final}
	}
	return r
}

// RepairRecordings finishes what a crash left: every recording still marked in progress gets
// its header repaired and its call ended as interrupted. Run it before the engine starts.
func RepairRecordings(ctx context.Context, store *models.Store, dataDir string, log *slog.Logger) error {
	recs, err := store.UnfinishedRecordings(ctx)
	if err != nil {
		return err
	}
	for _, r := range recs {
		dur, size, err := media.Repair(dataDir, r.Path)
		reason := ""
		if err != nil {
			reason = fmt.Sprintf("repair after crash failed: %v", err)
			log.Error("repairing recording", "path", r.Path, "err", err)
		} else {
			log.Warn("repaired recording left by a crash", "path", r.Path, "duration", dur, "size", size)
		}
		if err := store.MarkInterrupted(ctx, r.ID, size, dur, reason); err != nil {
			return err
		}
	}
	// Recordings a peer marked interrupted while this node was lost (models.ReapNodes): the
	// files are still here; their headers are repaired before the uploader stores them.
	lost, err := store.LostRecordings(ctx)
	if err != nil {
		return err
	}
	for _, r := range lost {
		dur, size, err := media.Repair(dataDir, r.Path)
		if err != nil {
			log.Error("repairing a recording of this node's lost run", "path", r.Path, "err", err)
			continue
		}
		log.Warn("repaired a recording of this node's lost run", "path", r.Path, "duration", dur, "size", size)
		if err := store.RepairedLost(ctx, r.ID, size, dur); err != nil {
			return err
		}
	}
	n, err := store.InterruptOpenCalls(ctx)
	if n > 0 {
		log.Warn("calls left open by a crash marked interrupted", "count", n)
	}
	return err
}
