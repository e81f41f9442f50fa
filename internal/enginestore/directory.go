// Package enginestore connects the recording engine to the Control Panel's store: a
// media.Directory that answers from the pools, bookings and announcements, and a media.Sink that
// saves every call event and then tells the live pages. The engine itself never imports models;
// this package is the one place that knows both vocabularies, so cmd/callrec and every test that
// runs a real engine against a real store use the same wiring.
package enginestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"callrec/calls"
	"callrec/media"
	"callrec/media/prompts"
	"callrec/models"
	"callrec/models/files"
)

// Directory answers the engine's questions from the store. DataDir is the data folder the
// announcement paths are relative to. With Routes, the last route of each number is kept, and a
// call that arrives while the database is away (restarting, unreachable) is routed as the last
// call to its number was: nothing could have changed it meanwhile, since changing it needs the
// database.
type Directory struct {
	Store   *models.Store
	DataDir string
	// Prompts gives local copies of announcements kept in a bucket (nil: they are files of
	// DataDir). A first fetch may take a moment; the engine asks at call set-up.
	Prompts *files.PromptCache
	Routes  *Routes
}

// Routes remembers the last route of each dialed number (Directory.Routes).
type Routes struct {
	mu   sync.Mutex
	last map[string]media.Route
}

// routesMax bounds the remembered numbers; beyond it the memory starts over.
const routesMax = 100_000

func (r *Routes) put(dialed string, route media.Route) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil || len(r.last) >= routesMax {
		r.last = map[string]media.Route{}
	}
	r.last[dialed] = route
}

func (r *Routes) get(dialed string) (media.Route, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	route, ok := r.last[dialed]
	return route, ok
}

// system is the identity the engine's own look-ups run as.
var system = models.Actor{Role: models.RolePlatformAdmin, Username: "system"}

// Route is where a dialed number goes and, when the pool's Call Recording module is active, how
// its calls are recorded and which files the three announcements play.
func (d Directory) Route(ctx context.Context, dialed string) (media.Route, error) {
	r, err := d.route(ctx, dialed)
	switch {
	case d.Routes == nil:
	case err == nil:
		d.Routes.put(dialed, r)
	case d.Store.Unavailable(err):
		if last, ok := d.Routes.get(dialed); ok {
			return last, nil
		}
	}
	return r, err
}

func (d Directory) route(ctx context.Context, dialed string) (media.Route, error) {
	p, err := d.Store.PoolByNumber(ctx, dialed)
	if errors.Is(err, models.ErrNotFound) {
		return media.Route{}, media.ErrUnknownNumber
	}
	if err != nil {
		return media.Route{}, err
	}
	r := media.Route{CustomerID: p.CustomerID, PoolID: p.ID, StartNumber: p.StartNumber, Destination: p.Destination,
		MaxCalls: p.MaxCalls}
	if p.Customer != nil {
		r.SubscriberID, r.Location = p.Customer.SubscriberID, p.Customer.Location()
	}
	pol, err := d.Store.RecordingPolicy(ctx, p.ID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return media.Route{}, err
	}
	if !pol.Active {
		return r, nil
	}
	r.Recording = media.Policy{Active: true, Mode: pol.Mode, CallerNotice: pol.CallerAnnouncement, Stereo: pol.Stereo}
	for _, a := range pol.Announcements {
		path, err := d.promptPath(ctx, a, pol.Language)
		if err != nil {
			return media.Route{}, err
		}
		switch calls.Slot(a.Slot) {
		case calls.SlotCallerNotice:
			r.Recording.Prompts.CallerNotice = path
		case calls.SlotObjectionConfirmation:
			r.Recording.Prompts.ObjectionConfirmation = path
		case calls.SlotCalleeWhisper:
			r.Recording.Prompts.CalleeWhisper = path
		}
	}
	return r, nil
}

// promptPath is the audio file a slot plays in lang: the chosen upload, the rendered text, or the
// shipped standard prompt; whatever is missing falls back to the standard prompt so a caller
// always hears the notice. The one error is the database being away (the route is then not the
// customer's and must not be remembered as theirs).
func (d Directory) promptPath(ctx context.Context, a models.Announcement, lang string) (string, error) {
	rel, version := "", ""
	switch a.Source {
	case models.SourceFile:
		if a.FileID != nil {
			f, err := d.Store.FileByID(ctx, system, *a.FileID)
			if d.Store.Unavailable(err) {
				return "", err
			}
			if err == nil {
				// A file uploaded again under a freed name is a new row: its copy is fetched
				// anew at once (rendered texts get new names, so they need no version).
				rel, version = f.Path, fmt.Sprintf("%d-%d-%d", f.ID, f.Size, f.UpdatedAt.UnixNano())
			}
		}
	case models.SourceText:
		rel = a.AudioEN
		if lang == "de" {
			rel = a.AudioDE
		}
	}
	if rel != "" && d.Prompts != nil {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if p, err := d.Prompts.PathOf(ctx, rel, version); err == nil {
			return p, nil
		}
		return DefaultPromptPath(d.DataDir, calls.Slot(a.Slot), lang), nil
	}
	if rel != "" {
		p := filepath.Join(d.DataDir, filepath.FromSlash(rel))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return DefaultPromptPath(d.DataDir, calls.Slot(a.Slot), lang), nil
}

// DefaultPromptPath is where InstallDefaultPrompts puts the shipped prompt of slot in lang.
func DefaultPromptPath(dataDir string, slot calls.Slot, lang string) string {
	return filepath.Join(dataDir, "prompts", string(slot)+"."+lang+".wav")
}

// InstallDefaultPrompts writes the shipped standard prompts where the engine reads them, when
// they are missing or differ (a new release).
func InstallDefaultPrompts(dataDir string) error {
	if err := os.MkdirAll(filepath.Join(dataDir, "prompts"), 0o750); err != nil {
		return err
	}
	for _, slot := range calls.Slots {
		for _, lang := range prompts.Langs {
			want := prompts.WAV(string(slot), lang)
			p := DefaultPromptPath(dataDir, slot, lang)
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
