package enginestore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"callrec/media"
	"callrec/models"
)

// Sink persists the engine's call events in order on one writer goroutine, so the engine's
// signalling never waits for the database, and forwards each event, once saved, to the live
// pages.
type Sink struct {
	store *models.Store
	live  Live
	log   *slog.Logger
	queue chan sinkItem
	done  chan struct{}
	// mu guards closed: the engine stops waiting for calls whose peer never answers the BYE, so
	// such a call can report after Close; its event is dropped (the next start marks the call
	// interrupted) instead of sending on the closed queue.
	mu     sync.RWMutex
	closed bool
}

// Live is who hears about a call after it is saved (the web server's Live calls pages).
type Live interface {
	CallChanged(media.CallInfo)
	CallEnded(media.CallInfo)
}

type sinkItem struct {
	c     media.CallInfo
	ended bool
}

// NewSink makes a sink; events it receives wait in its queue until Start.
func NewSink(log *slog.Logger) *Sink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sink{log: log, queue: make(chan sinkItem, 4096), done: make(chan struct{})}
}

// Start begins saving events to store and forwarding them to live (which may be nil). The
// engine must not run before Start: a full queue would block its signalling.
func (s *Sink) Start(store *models.Store, live Live) {
	s.store, s.live = store, live
	go s.loop()
}

// CallChanged queues a state change of a call.
func (s *Sink) CallChanged(_ context.Context, c media.CallInfo) { s.put(sinkItem{c: c}) }

// CallEnded queues the final state of a call.
func (s *Sink) CallEnded(_ context.Context, c media.CallInfo) { s.put(sinkItem{c: c, ended: true}) }

func (s *Sink) put(it sinkItem) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.log.Warn("call event after shutdown dropped", "call", it.c.ID, "ended", it.ended)
		return
	}
	s.queue <- it
}

// Close waits until every queued event is stored. The engine must have stopped.
func (s *Sink) Close() {
	s.mu.Lock()
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	<-s.done
}

func (s *Sink) loop() {
	defer close(s.done)
	for it := range s.queue {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := s.store.SaveCall(ctx, CallRecord(it.c, it.ended)); err != nil {
			s.log.Error("saving call", "call", it.c.ID, "err", err)
		}
		cancel()
		if s.live == nil {
			continue
		}
		if it.ended {
			s.live.CallEnded(it.c)
		} else {
			s.live.CallChanged(it.c)
		}
	}
}

// CallRecord translates the engine's snapshot into the store's record; final marks the
// snapshot of CallEnded.
func CallRecord(c media.CallInfo, final bool) models.CallRecord {
	r := models.CallRecord{
		EngineID: c.ID, CustomerID: c.CustomerID, PoolID: c.PoolID, SubscriberID: c.SubscriberID, StartNumber: c.StartNumber,
		A: c.A, B: c.B, C: c.C, Arrival: c.Arrival, Answered: c.Answered, Bridged: c.Bridged, Ended: c.Ended,
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
	n, err := store.InterruptOpenCalls(ctx)
	if n > 0 {
		log.Warn("calls left open by a crash marked interrupted", "count", n)
	}
	return err
}
