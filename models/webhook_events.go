package models

import (
	"time"

	"gorm.io/gorm"
)

// The data of the webhook events. Numbers are as the customer's administrators see them in the
// panel (the endpoints are theirs): the caller empty when withheld, the destination in full.

// WebhookCall is a call in an event.
type WebhookCall struct {
	ID           uint                `json:"id"`
	EngineID     string              `json:"engine_id"`
	PoolID       uint                `json:"pool_id"`
	SubscriberID string              `json:"subscriber_id"`
	StartNumber  string              `json:"start_number"`
	A            string              `json:"a"`
	B            string              `json:"b"`
	C            string              `json:"c"`
	Withheld     bool                `json:"withheld"`
	Arrival      time.Time           `json:"arrival"`
	Answered     *time.Time          `json:"answered"`
	Bridged      *time.Time          `json:"bridged"`
	Ended        *time.Time          `json:"ended"`
	Outcome      string              `json:"outcome"`
	Mode         string              `json:"mode"`
	DurationMS   int64               `json:"duration_ms"` // connected time, bridge to end
	RecordedMS   int64               `json:"recorded_ms"`
	Trail        []WebhookTrailEvent `json:"consent_trail"`
}

// WebhookTrailEvent is one step of the consent trail.
type WebhookTrailEvent struct {
	At       time.Time `json:"at"`
	OffsetMS int64     `json:"offset_ms"` // from the call's arrival
	Kind     string    `json:"kind"`
	By       string    `json:"by"`
	Detail   string    `json:"detail,omitempty"`
}

// WebhookRecording is a recording in an event. DownloadURL and DownloadExpires are filled at
// each delivery attempt (a signed link, valid for a while from then).
type WebhookRecording struct {
	ID              uint       `json:"id"` // the API's recording id (/api/v1/recordings/{id})
	FileName        string     `json:"file_name"`
	Path            string     `json:"path"`
	Status          string     `json:"status"`
	Failure         string     `json:"failure,omitempty"`
	Channels        int        `json:"channels"`
	Size            int64      `json:"size"`
	DurationMS      int64      `json:"duration_ms"` // the file's length
	RecordedMS      int64      `json:"recorded_ms"`
	Segments        [][2]int64 `json:"segments"` // recorded stretches, offsets from the bridge in ms
	Storage         string     `json:"storage"`  // spooled, stored or failed (see the API's recording)
	DownloadURL     string     `json:"download_url,omitempty"`
	DownloadExpires *time.Time `json:"download_expires,omitempty"`
}

// WebhookData is the data of the recording and call events.
type WebhookData struct {
	Call      *WebhookCall      `json:"call,omitempty"`
	Recording *WebhookRecording `json:"recording,omitempty"`
	// recording.deleted: "user" or "retention", and the user's name.
	DeletedBy string `json:"deleted_by,omitempty"`
	User      string `json:"user,omitempty"`
}

func webhookCall(c Call, events []CallEvent, subscriberID, startNumber string) *WebhookCall {
	w := &WebhookCall{ID: c.ID, EngineID: c.EngineID, PoolID: c.PoolID, SubscriberID: subscriberID, StartNumber: startNumber,
		A: c.A, B: c.B, C: c.C, Withheld: c.A == "", Arrival: c.Arrival.UTC(), Answered: c.Answered, Bridged: c.Bridged, Ended: c.Ended,
		Outcome: c.Outcome, Mode: c.Mode, DurationMS: c.DurationMS, RecordedMS: c.RecordedMS, Trail: []WebhookTrailEvent{}}
	for _, e := range events {
		w.Trail = append(w.Trail, WebhookTrailEvent{At: e.At.UTC(), OffsetMS: e.OffsetMS, Kind: e.Kind, By: e.By, Detail: e.Detail})
	}
	return w
}

func webhookRecording(r Recording, f File) *WebhookRecording {
	segs := r.SegmentsMS()
	if segs == nil {
		segs = [][2]int64{}
	}
	return &WebhookRecording{ID: f.ID, FileName: f.Name, Path: f.Path, Status: r.Status, Failure: r.Failure,
		Channels: r.Channels, Size: r.Size, DurationMS: r.DurationMS, RecordedMS: r.RecordedMS, Segments: segs, Storage: r.Storage}
}

// callOwner is the subscriber ID and the pool's start number of a call, for its events.
func callOwner(tx *gorm.DB, c Call) (sub, start string) {
	var row struct {
		SubscriberID string
		StartNumber  string
	}
	tx.Raw("SELECT c.subscriber_id, p.start_number FROM customers c LEFT JOIN pools p ON p.id = ? WHERE c.id = ?", c.PoolID, c.CustomerID).Scan(&row)
	return row.SubscriberID, row.StartNumber
}

// callEvents reports what changed between a call's saved state before (wasEnded, the
// recording's status) and now, inside tx: call.ended once when the call ends, and
// recording.completed or recording.failed once when its recording closes or fails.
func (s *Store) callEvents(tx *gorm.DB, c Call, wasEnded bool, prevRec string, rec *Recording, f *File) error {
	recDone := rec != nil && prevRec != rec.Status && (rec.Status == RecordingComplete || rec.Status == RecordingFailed ||
		rec.Status == RecordingInterrupted) && (prevRec == "" || prevRec == RecordingActive)
	callDone := c.Ended != nil && !wasEnded
	if !recDone && !callDone {
		return nil
	}
	var evs []CallEvent
	if err := tx.Where("call_id = ?", c.ID).Order("seq, id").Find(&evs).Error; err != nil {
		return err
	}
	sub, start := callOwner(tx, c)
	data := WebhookData{Call: webhookCall(c, evs, sub, start)}
	if rec != nil && f != nil {
		data.Recording = webhookRecording(*rec, *f)
	}
	if recDone {
		ev := EventRecordingCompleted
		if rec.Status == RecordingFailed {
			ev = EventRecordingFailed
		}
		if err := s.enqueueWebhooks(tx, c.CustomerID, ev, data); err != nil {
			return err
		}
	}
	if callDone {
		return s.enqueueWebhooks(tx, c.CustomerID, EventCallEnded, data)
	}
	return nil
}

// deletedEvent queues recording.deleted for file f inside the deletion's transaction (before
// its rows go).
func (s *Store) deletedEvent(tx *gorm.DB, f File, by Actor) error {
	data := WebhookData{DeletedBy: "retention"}
	if by.UserID != 0 {
		data.DeletedBy, data.User = "user", by.Username
	}
	var rec Recording
	if tx.Where("file_id = ?", f.ID).First(&rec).Error == nil {
		data.Recording = webhookRecording(rec, f)
		var c Call
		if tx.First(&c, rec.CallID).Error == nil {
			var evs []CallEvent
			tx.Where("call_id = ?", c.ID).Order("seq, id").Find(&evs)
			sub, start := callOwner(tx, c)
			data.Call = webhookCall(c, evs, sub, start)
		}
	} else {
		data.Recording = &WebhookRecording{ID: f.ID, FileName: f.Name, Path: f.Path, Size: f.Size, DurationMS: f.DurationMS, Segments: [][2]int64{}}
	}
	return s.enqueueWebhooks(tx, f.CustomerID, EventRecordingDeleted, data)
}
