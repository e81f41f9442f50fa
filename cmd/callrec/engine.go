package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"callrec/media"
	"callrec/media/prompts"
	"callrec/models"
)

// directory answers the engine's questions from the Control Panel's database.
type directory struct {
	store   *models.Store
	dataDir string
}

// system is the identity the engine's own look-ups run as.
var system = models.Actor{Role: models.RolePlatformAdmin, Username: "system"}

func (d directory) Route(ctx context.Context, dialed string) (media.Route, error) {
	p, err := d.store.PoolByNumber(ctx, dialed)
	if errors.Is(err, models.ErrNotFound) {
		return media.Route{}, media.ErrUnknownNumber
	}
	if err != nil {
		return media.Route{}, err
	}
	r := media.Route{CustomerID: p.CustomerID, PoolID: p.ID, StartNumber: p.StartNumber, Destination: p.Destination}
	if p.Customer != nil {
		r.SubscriberID, r.Location = p.Customer.SubscriberID, p.Customer.Location()
	}
	pol, err := d.store.RecordingPolicy(ctx, p.ID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return media.Route{}, err
	}
	if !pol.Active {
		return r, nil
	}
	r.Recording = media.Policy{Active: true, Mode: media.Mode(pol.Mode), CallerNotice: pol.CallerAnnouncement, Stereo: pol.Stereo}
	for _, a := range pol.Announcements {
		path := d.promptPath(ctx, a, pol.Language)
		switch a.Slot {
		case models.SlotCallerNotice:
			r.Recording.Prompts.CallerNotice = path
		case models.SlotObjectionConfirmation:
			r.Recording.Prompts.ObjectionConfirmation = path
		case models.SlotCalleeWhisper:
			r.Recording.Prompts.CalleeWhisper = path
		}
	}
	return r, nil
}

// promptPath is the audio file a slot plays in lang: the chosen upload, the rendered text, or the
// shipped standard prompt; whatever is missing falls back to the standard prompt so a caller
// always hears the notice.
func (d directory) promptPath(ctx context.Context, a models.Announcement, lang string) string {
	rel := ""
	switch a.Source {
	case models.SourceFile:
		if a.FileID != nil {
			if f, err := d.store.FileByID(ctx, system, *a.FileID); err == nil {
				rel = f.Path
			}
		}
	case models.SourceText:
		rel = a.AudioEN
		if lang == "de" {
			rel = a.AudioDE
		}
	}
	if rel != "" {
		p := filepath.Join(d.dataDir, filepath.FromSlash(rel))
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return defaultPromptPath(d.dataDir, a.Slot, lang)
}

func defaultPromptPath(dataDir, slot, lang string) string {
	return filepath.Join(dataDir, "prompts", slot+"."+lang+".wav")
}

// installDefaultPrompts writes the shipped standard prompts where the engine reads them, when
// they are missing or differ (a new release).
func installDefaultPrompts(dataDir string) error {
	if err := os.MkdirAll(filepath.Join(dataDir, "prompts"), 0o750); err != nil {
		return err
	}
	for _, slot := range models.Slots {
		for _, lang := range []string{"de", "en"} {
			want := prompts.WAV(slot, lang)
			p := defaultPromptPath(dataDir, slot, lang)
			if have, err := os.ReadFile(p); err == nil && bytes.Equal(have, want) {
				continue
			}
			if err := os.WriteFile(p+".tmp", want, 0o640); err != nil {
				return err
			}
			if err := os.Rename(p+".tmp", p); err != nil {
				return err
			}
		}
	}
	return nil
}

// callSink persists the engine's call events in order on one writer goroutine, so the engine's
// signalling never waits for the database, and forwards them to the live pages.
type callSink struct {
	store *models.Store
	live  liveSink
	log   *slog.Logger
	queue chan sinkItem
	done  chan struct{}
}

type liveSink interface {
	CallChanged(media.CallInfo)
	CallEnded(media.CallInfo)
}

type sinkItem struct {
	c     media.CallInfo
	ended bool
}

func newCallSink(store *models.Store, log *slog.Logger) *callSink {
	return &callSink{store: store, log: log, queue: make(chan sinkItem, 4096), done: make(chan struct{})}
}

// start begins storing events and forwarding them to live (which may be nil). The engine must not
// report before start; it reports only once it runs.
func (s *callSink) start(live liveSink) {
	s.live = live
	go s.loop()
}

func (s *callSink) CallChanged(_ context.Context, c media.CallInfo) {
	s.queue <- sinkItem{c: c}
}

func (s *callSink) CallEnded(_ context.Context, c media.CallInfo) {
	s.queue <- sinkItem{c: c, ended: true}
}

// Close waits until every queued event is stored.
func (s *callSink) Close() {
	close(s.queue)
	<-s.done
}

func (s *callSink) loop() {
	defer close(s.done)
	for it := range s.queue {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := s.store.SaveCall(ctx, callRecord(it.c, it.ended)); err != nil {
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

// callRecord translates the engine's snapshot into the store's record.
func callRecord(c media.CallInfo, final bool) models.CallRecord {
	r := models.CallRecord{
		EngineID: c.ID, CustomerID: c.CustomerID, PoolID: c.PoolID, SubscriberID: c.SubscriberID, StartNumber: c.StartNumber,
		A: c.A, B: c.B, C: c.C, Arrival: c.Arrival, Answered: c.Answered, Bridged: c.Bridged, Ended: c.Ended,
		State: string(c.State), RecState: string(c.Rec), Mode: string(c.Mode), Outcome: string(c.Outcome), Recorded: c.Recorded,
	}
	for _, e := range c.Events {
		r.Events = append(r.Events, models.CallEventRecord{At: e.At, Kind: e.Kind, By: e.By, Detail: e.Detail})
	}
	for _, sg := range c.Segments {
		r.Segments = append(r.Segments, [2]time.Duration{sg.Start, sg.End})
	}
	if c.Recording != nil {
		r.Recording = &models.RecordingRecord{Path: c.Recording.Path, Channels: c.Recording.Channels, Size: c.Recording.Size,
			Duration: c.Recording.Duration, Recorded: c.Recording.Recorded, Failed: c.Recording.Failed, Final: final}
	}
	return r
}

// repairRecordings finishes what a crash left: every recording still marked in progress gets its
// header repaired and its call ended as interrupted.
func repairRecordings(ctx context.Context, store *models.Store, dataDir string, log *slog.Logger) error {
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
