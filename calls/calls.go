// Package calls is the vocabulary a call is described in, shared by the recording engine
// (media) and the Control Panel (models, web, templates): a call's state, its recording's state,
// how it ended, who starts the recording, the announcement slots, the consent trail's event
// kinds, the recorded segments and the state of a recording's file. Each value is defined here
// once; the engine and the store both use these types, so what the engine reports is what the
// store keeps and what the pages translate.
//
// It imports no project package, so every package may import it. A new value goes into its
// type's list (States, Outcomes, ...): the lists feed the translation test, which fails until
// de, en and fr have the value's label.
package calls

import (
	"slices"
	"strings"
	"time"
)

// State is where a call is in its life.
type State string

const (
	StateRinging    State = "ringing"    // the caller is in; nothing answered yet
	StateAnnouncing State = "announcing" // the caller hears the notice
	StateConnected  State = "connected"  // caller and callee are bridged
	StateEnded      State = "ended"
)

// States lists every State in the order a call passes them.
var States = []State{StateRinging, StateAnnouncing, StateConnected, StateEnded}

// RecState is whether a call is being recorded right now.
type RecState string

const (
	RecOff       RecState = "off"       // not (yet) recording
	RecRecording RecState = "recording" // the file takes the conversation
	RecStopped   RecState = "stopped"   // paused by an agent or by the callee's #1; the file has silence
	RecObjected  RecState = "objected"  // the caller pressed *: this call is never recorded
	RecFailed    RecState = "failed"    // writing the file failed (disk full)
)

// RecStates lists every RecState.
var RecStates = []RecState{RecOff, RecRecording, RecStopped, RecObjected, RecFailed}

// Outcome is how a call ended.
type Outcome string

const (
	OutcomeCompleted   Outcome = "completed"
	OutcomeObjected    Outcome = "objected"
	OutcomeUnanswered  Outcome = "unanswered"
	OutcomeBusy        Outcome = "busy"
	OutcomeFailed      Outcome = "failed"
	OutcomeInterrupted Outcome = "interrupted" // the engine stopped (or crashed) during the call
)

// Outcomes lists every Outcome in the order the call log's filter offers them.
var Outcomes = []Outcome{OutcomeCompleted, OutcomeObjected, OutcomeUnanswered, OutcomeBusy, OutcomeFailed, OutcomeInterrupted}

// Mode is who starts a pool's recordings.
type Mode string

const (
	ModeAutomatic Mode = "automatic" // every call is recorded unless someone objects
	ModeManual    Mode = "manual"    // agents start and stop recording during the call
)

// Modes lists every Mode.
var Modes = []Mode{ModeAutomatic, ModeManual}

// Slot is one of a pool's three announcements.
type Slot string

const (
	SlotCallerNotice          Slot = "caller_notice"          // to the caller before connecting; "*" objects
	SlotObjectionConfirmation Slot = "objection_confirmation" // to the caller after "*"
	SlotCalleeWhisper         Slot = "callee_whisper"         // to the callee; "#1" stops recording
)

// Slots lists the slots in the order a call meets them.
var Slots = []Slot{SlotCallerNotice, SlotObjectionConfirmation, SlotCalleeWhisper}

// PromptLangs lists the languages announcements exist in.
var PromptLangs = []string{"de", "en"}

// PromptLang maps a customer's language setting to the language its callers hear: German for
// German ("de", "de-AT", "de_CH"), English for everything else, French included (the product
// document ships no French announcements).
func PromptLang(customerLang string) string {
	l := strings.ToLower(strings.TrimSpace(customerLang))
	if l == "de" || strings.HasPrefix(l, "de-") || strings.HasPrefix(l, "de_") {
		return "de"
	}
	return "en"
}

// EventKind is the kind of one entry of a call's consent trail.
type EventKind string

const (
	EventNoticePlayed       EventKind = "notice_played"
	EventStarPressed        EventKind = "star_pressed"
	EventConfirmationPlayed EventKind = "confirmation_played"
	EventWhisperPlayed      EventKind = "whisper_played"
	EventHash1Pressed       EventKind = "hash1_pressed"
	EventRecordingStarted   EventKind = "recording_started"
	EventRecordingStopped   EventKind = "recording_stopped"
	EventRecordingFailed    EventKind = "recording_failed"
	// Signalling, not consent, but in the same trail so a call's story is in one place:
	// a leg put on hold and back (Detail: the direction it asked for), a session timer that
	// ran out, and why a call failed when signalling was the reason (Detail says what came).
	EventHeld            EventKind = "held"
	EventResumed         EventKind = "resumed"
	EventSessionExpired  EventKind = "session_expired"
	EventSignallingError EventKind = "signalling_error"
	// EventNodeLost: the node handling the call stopped heartbeating; a peer ended the call.
	EventNodeLost EventKind = "node_lost"
)

// EventKinds lists every EventKind.
var EventKinds = []EventKind{EventNoticePlayed, EventStarPressed, EventConfirmationPlayed, EventWhisperPlayed,
	EventHash1Pressed, EventRecordingStarted, EventRecordingStopped, EventRecordingFailed,
	EventHeld, EventResumed, EventSessionExpired, EventSignallingError, EventNodeLost}

// RecordingStatus is the state of a call's recording file.
type RecordingStatus string

const (
	RecordingActive      RecordingStatus = "recording"   // the call is on; the file grows
	RecordingComplete    RecordingStatus = "complete"    // closed with the call
	RecordingFailed      RecordingStatus = "failed"      // writing stopped with an error
	RecordingInterrupted RecordingStatus = "interrupted" // left open by a crash, repaired at the next start
)

// RecordingStatuses lists every RecordingStatus.
var RecordingStatuses = []RecordingStatus{RecordingActive, RecordingComplete, RecordingFailed, RecordingInterrupted}

// Segment is a recorded stretch of a call, as offsets from the bridge.
type Segment struct{ Start, End time.Duration }

// Valid reports whether the value is one of its type's list (for values read from a form, a
// URL or the database).
func (s State) Valid() bool           { return slices.Contains(States, s) }
func (s RecState) Valid() bool        { return slices.Contains(RecStates, s) }
func (o Outcome) Valid() bool         { return slices.Contains(Outcomes, o) }
func (m Mode) Valid() bool            { return slices.Contains(Modes, m) }
func (s Slot) Valid() bool            { return slices.Contains(Slots, s) }
func (k EventKind) Valid() bool       { return slices.Contains(EventKinds, k) }
func (r RecordingStatus) Valid() bool { return slices.Contains(RecordingStatuses, r) }
