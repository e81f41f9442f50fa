package models

import (
	"errors"
	"net/http"
	"strings"

	"gorm.io/gorm"
)

// Error is a declared error: a stable snake_case code (the JSON API's error code), the HTTP
// status both the pages and the API answer with, and the i18n key of the message users read
// (the API's message is its English text). Every error an answer can carry is declared below,
// once; web translates them for pages and the API alike. Compare with errors.Is: each is one
// pointer.
type Error struct {
	Code   string
	Status int
	Key    string
}

func (e *Error) Error() string { return strings.ReplaceAll(e.Code, "_", " ") }

// With is e with a detail for the API's message (which limit, which field): the same code,
// status and key.
func (e *Error) With(detail string) error { return &detailed{e, detail} }

type detailed struct {
	err    *Error
	detail string
}

func (d *detailed) Error() string  { return d.err.Error() + ": " + d.detail }
func (d *detailed) Unwrap() error  { return d.err }
func (d *detailed) Detail() string { return d.detail }

// Declared lists every declared error, in the order of this file.
func Declared() []*Error { return append([]*Error(nil), declared...) }

var declared []*Error

// declare adds an error whose message is "error."+code.
func declare(code string, status int) *Error { return declareKey(code, status, "error."+code) }

func declareKey(code string, status int, key string) *Error {
	e := &Error{Code: code, Status: status, Key: key}
	for _, d := range declared {
		if d.Code == code {
			panic("models: error code " + code + " declared twice")
		}
	}
	declared = append(declared, e)
	return e
}

const invalid = http.StatusUnprocessableEntity

// The request itself.
var (
	ErrBadRequest   = declare("bad_request", http.StatusBadRequest) // a body or form that cannot be read
	ErrUnauthorized = declare("unauthorized", http.StatusUnauthorized)
	ErrCSRF         = declare("csrf", http.StatusForbidden) // a form without its session's token
	ErrTooLarge     = declare("too_large", http.StatusRequestEntityTooLarge)
	ErrRateLimited  = declare("rate_limited", http.StatusTooManyRequests)
	ErrInternal     = declare("internal", http.StatusInternalServerError) // what no other error says
	// ErrUnavailable is what a 503 page is titled.
	ErrUnavailable = declare("unavailable", http.StatusServiceUnavailable)
	// ErrDatabaseUnavailable: the database cannot be reached now (Store.Unavailable); calls
	// go on and their events wait in the engine's sink.
	ErrDatabaseUnavailable = declare("database_unavailable", http.StatusServiceUnavailable)
)

// Objects and permissions.
var (
	// ErrNotFound is returned for missing rows and for rows of another customer alike.
	ErrNotFound = declare("not_found", http.StatusNotFound)
	// ErrForbidden means the actor may see the object but not change it.
	ErrForbidden = declare("forbidden", http.StatusForbidden)
	// ErrInvalidCredentials is a login with an unknown user name or a wrong password (one
	// message for both).
	ErrInvalidCredentials = declareKey("invalid_credentials", invalid, "login.invalid")
	// ErrNotBooked means the module must be booked before its settings can change.
	ErrNotBooked = declare("module_not_booked", http.StatusConflict)
	// ErrModuleUnavailable means this installation cannot deliver the module (FTP access
	// without an FTPS or SFTP server), so it cannot be booked.
	ErrModuleUnavailable = declare("module_unavailable", http.StatusConflict)
	// ErrFileInUse means a file is still chosen for an announcement slot and cannot be deleted.
	ErrFileInUse = declare("file_in_use", http.StatusConflict)
	// ErrBadQuery is a query parameter out of range (an unknown sort key, a broken cursor).
	ErrBadQuery = declare("invalid_query", invalid)
)

// Invalid fields: a ValidationError names one of these per field.
var (
	ErrRequired          = declare("required", invalid)
	ErrUnknownField      = declare("unknown_field", invalid)
	ErrUsernameInvalid   = declare("username_invalid", invalid)
	ErrUsernameTaken     = declare("username_taken", invalid)
	ErrPasswordTooShort  = declare("password_too_short", invalid)
	ErrPasswordTooLong   = declare("password_too_long", invalid)
	ErrWrongPassword     = declare("wrong_password", invalid) // the current password, when changing it
	ErrRoleInvalid       = declare("role_invalid", invalid)
	ErrCannotChangeSelf  = declare("cannot_change_self", invalid)
	ErrLanguageInvalid   = declare("language_invalid", invalid)
	ErrTimeZoneInvalid   = declare("time_zone_invalid", invalid)
	ErrDigitsOnly        = declare("digits_only", invalid)
	ErrSubscriberIDTaken = declare("subscriber_id_taken", invalid)
	ErrCustomerRequired  = declare("customer_required", invalid) // the platform admin must name one
	ErrNumberInvalid     = declare("number_invalid", invalid)
	ErrNumberTaken       = declare("number_taken", invalid) // by another pool of the same customer
	// Number ranges and destinations (models/number_ranges.go, destinations.go).
	ErrNumberNotAssigned   = declare("number_not_assigned", invalid)   // not in the customer's ranges, whoever holds it
	ErrNumberOtherCustomer = declare("number_other_customer", invalid) // the platform admin's: in another customer's range
	ErrRangeInvalid        = declare("number_range_invalid", invalid)
	ErrRangeOverlaps       = declare("number_range_overlaps", invalid)
	ErrRangeTaken          = declare("number_range_taken", invalid) // holds numbers of another customer's pools
	ErrRangeInUse          = declare("number_range_in_use", http.StatusConflict)
	ErrDestinationBlocked  = declare("destination_blocked", invalid)
	ErrDestinationLoop     = declare("destination_loop", invalid) // a number of the customer's own pools
	ErrPrefixInvalid       = declare("prefix_invalid", invalid)
	ErrMaxCallsInvalid     = declare("max_calls_invalid", invalid)
	ErrNumbersRequired     = declare("numbers_required", invalid)
	ErrTooManyNumbers      = declare("too_many_numbers", invalid)
	ErrPriceInvalid        = declare("price_invalid", invalid)
	ErrCurrencyInvalid     = declare("currency_invalid", invalid)
	ErrDateInvalid         = declare("date_invalid", invalid) // a filter's date (YYYY-MM-DD)
	ErrNumberFilter        = declare("number_filter_invalid", invalid)
	ErrConfirmDelete       = declare("confirm_delete", invalid) // the deletion's checkbox
	// Call Recording: the booking and its settings.
	ErrLegalConfirmationRequired = declare("legal_confirmation_required", invalid)
	ErrLegalNoticeChanged        = declare("legal_notice_changed", invalid)
	ErrInvalidNoticeVersion      = declare("invalid_notice_version", invalid)
	ErrInvalidEnabled            = declare("invalid_enabled", invalid)
	ErrInvalidMode               = declare("invalid_mode", invalid)
	ErrInvalidAnnouncement       = declare("invalid_announcement", invalid)
	ErrInvalidChannels           = declare("invalid_channels", invalid)
	ErrInvalidRetentionDays      = declare("invalid_retention_days", invalid)
	// Announcements.
	ErrSourceInvalid            = declare("source_invalid", invalid)
	ErrFileUnknown              = declare("file_unknown", invalid)
	ErrFileNotReady             = declare("file_not_ready", invalid)
	ErrAnnouncementTextRequired = declare("announcement_text_required", invalid)
	ErrAnnouncementTextTooLong  = declare("announcement_text_too_long", invalid)
	ErrAnnouncementTextInvalid  = declare("announcement_text_invalid", invalid)
	ErrNoSpeechEngine           = declare("no_speech_engine", http.StatusServiceUnavailable) // espeak-ng missing
)

// Query parameters of the API's lists.
var (
	ErrInvalidFrom  = declare("invalid_from", invalid)
	ErrInvalidTo    = declare("invalid_to", invalid)
	ErrInvalidPool  = declare("invalid_pool", invalid)
	ErrInvalidLimit = declare("invalid_limit", invalid)
	ErrInvalidPage  = declare("invalid_page", invalid)
	ErrInvalidState = declare("invalid_state", invalid)
)

// Uploaded and converted audio files. The format errors have the codes of media/audio's
// audio.Error (web maps them by code; a test holds both lists together).
var (
	ErrNoFile            = declare("no_file", invalid)
	ErrOneFile           = declare("one_file", invalid) // a second file in one upload
	ErrBadFolder         = declare("bad_folder", invalid)
	ErrFileTooLarge      = declare("file_too_large", http.StatusRequestEntityTooLarge)
	ErrAlreadyReady      = declare("already_ready", http.StatusConflict)
	ErrUnsupportedFormat = declare("unsupported_format", invalid)
	ErrCorruptFile       = declare("corrupt_file", invalid)
	ErrTruncatedFile     = declare("truncated_file", invalid)
	ErrAudioTooLong      = declare("too_long", invalid)
	ErrBadChannels       = declare("bad_channels", invalid)
	ErrBadRate           = declare("bad_rate", invalid)
	ErrNoAudio           = declare("no_audio", invalid)
)

// Recordings and live calls. The engine's refusals (media.ErrCallerObjected and the others)
// answer as these; web maps them.
var (
	ErrFileMissing        = declare("file_missing", http.StatusNotFound) // a recording's row without its file
	ErrUnreadableFile     = declare("unreadable_file", invalid)          // not a 16-bit PCM WAV
	ErrEngineNotRunning   = declare("engine_not_running", http.StatusServiceUnavailable)
	ErrCallerObjected     = declareKey("caller_objected", http.StatusConflict, "calls.reason_objected")
	ErrRecordingNotBooked = declareKey("recording_not_booked", http.StatusConflict, "calls.reason_not_booked")
	ErrCalleeInterrupted  = declareKey("callee_interrupted", http.StatusConflict, "calls.reason_interrupted")
	ErrCallEnded          = declareKey("call_ended", http.StatusConflict, "calls.error_ended")
	// ErrNodeUnavailable: the call runs on another node of the cluster, which does not answer.
	ErrNodeUnavailable = declare("node_unavailable", http.StatusServiceUnavailable)
)

// Webhooks and signed download links.
var (
	ErrWebhookURLInvalid         = declare("webhook_url_invalid", invalid)
	ErrWebhookURLInsecure        = declare("webhook_url_insecure", invalid) // http:// without --webhook-allow-insecure
	ErrWebhookURLPrivate         = declare("webhook_url_private", invalid)  // a loopback, private or link-local address
	ErrWebhookDescriptionTooLong = declare("webhook_description_too_long", invalid)
	ErrWebhookEventInvalid       = declare("webhook_event_invalid", invalid)
	ErrWebhookEventsRequired     = declare("webhook_events_required", invalid)
	ErrTooManyWebhooks           = declare("too_many_webhooks", http.StatusConflict)
	ErrLinkExpired               = declare("link_expired", http.StatusForbidden)
	ErrLinkInvalid               = declare("link_invalid", http.StatusForbidden)
)

// FieldError is one invalid form field and what is wrong with it.
type FieldError struct {
	Field string
	Err   *Error
}

// ValidationError lists the invalid fields of one input. It answers as its first field's
// error (fields are checked in a fixed order, so the answer is stable).
type ValidationError []FieldError

func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = f.Field + ": " + f.Err.Code
	}
	return "invalid input: " + strings.Join(parts, ", ")
}

// Field returns the message key for field, or "".
func (v ValidationError) Field(name string) string {
	for _, f := range v {
		if f.Field == name {
			return f.Err.Key
		}
	}
	return ""
}

func (v *ValidationError) add(field string, e *Error) { *v = append(*v, FieldError{field, e}) }

func (v ValidationError) err() error {
	if len(v) == 0 {
		return nil
	}
	return v
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}
