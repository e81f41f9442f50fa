package web

import (
	"context"
	"encoding/json"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"callrec/calls"
	"callrec/i18n"
	"callrec/models"
	"callrec/templates"
)

// The audit log as people read it: each kind and field name translated, values in words
// (booked, on/off, prices as money, lengths as m:ss), the subject named and linked ("Pool
// Demo-Pool Stuttgart", "Call from 49711218431440 at 14:02"), and a run of the same person
// listening to the same recording folded into one row.

// auditKinds is every kind of audit event the product writes; TestAuditKindsAndFieldsTranslated
// holds it to the code and to the translations ("audit.kind.<kind>" in de, en and fr).
var auditKinds = []string{
	"booking.created", "booking.cancelled", "settings.changed", "announcement.changed",
	"file.uploaded", "file.converted", "file.deleted",
	models.AuditRecordingListened, models.AuditRecordingDownloaded, models.AuditRecordingDeleted,
	"recording.started", "recording.stopped", "ftp.credentials_set",
	"ftps.login", "ftps.login_failed", "ftps.download", "sftp.login", "sftp.login_failed", "sftp.download",
	models.AuditWebhookCreated, models.AuditWebhookUpdated, models.AuditWebhookDeleted, models.AuditWebhookRotated,
}

// auditFieldNames is every field name of the events' old and new values ("audit.field.<name>").
var auditFieldNames = []string{
	"module", "booked_at", "booked_by", "price", "pool_id", "notice_version", "notice_language", "cancelled_at", "cancelled_by",
	"enabled", "mode", "caller_announcement", "channels", "retention_days", "recording", "recorded_ms",
	"id", "path", "size", "codec", "bits", "rate", "duration_ms", "ready", "source", "text_de", "text_en", "file_id",
	"zip", "reason", "url", "events", "description",
}

// auditHidden are fields the log does not show: engine-internal ids, the pool's id (the subject
// names the pool) and the price's parts (shown as one price).
var auditHidden = map[string]bool{"engine_id": true, "currency": true, "price_cents": true, "pool_id": true}

func auditFieldLabel(ctx context.Context, k string) string {
	if i18n.Has(i18n.Lang(ctx), "audit.field."+k) {
		return i18n.T(ctx, "audit.field."+k)
	}
	return k
}

// auditValue writes one value of field k in words.
func auditValue(ctx context.Context, k string, v any, loc *time.Location) string {
	lang := i18n.Lang(ctx)
	switch x := v.(type) {
	case nil:
		return "–"
	case bool:
		if k == "enabled" || k == "caller_announcement" {
			return i18n.T(ctx, bkOnOffKey(x))
		}
		if x {
			return i18n.T(ctx, "audit.yes")
		}
		return i18n.T(ctx, "audit.no")
	case float64:
		n := int64(x)
		switch k {
		case "retention_days":
			if n == 0 {
				return i18n.T(ctx, "booking.settings.forever")
			}
			return i18n.T(ctx, "audit.days", map[string]any{"Count": n})
		case "recorded_ms", "duration_ms":
			return fmtDuration(n)
		case "size":
			return i18n.Size(lang, n)
		case "rate":
			return i18n.Hertz(lang, int(n))
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return bookingTime(ctx, t, loc)
		}
		switch k {
		case "mode":
			if calls.Mode(x).Valid() {
				return i18n.T(ctx, calls.Mode(x).Key())
			}
		case "channels":
			return i18n.T(ctx, "home.channels_"+x)
		case "module":
			return i18n.T(ctx, "module."+x)
		case "recording":
			if calls.RecState(x).Valid() {
				return i18n.T(ctx, calls.RecState(x).Key())
			}
		case "notice_version":
			if len(x) > 16 {
				return x[:16] + "…"
			}
		case "source":
			return i18n.T(ctx, "audit.source_"+x)
		case "path":
			return path.Base(x)
		case "notice_language":
			return languageName(x)
		}
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = auditValue(ctx, k, e, loc)
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// languageName is a UI language in its own words (Deutsch, English, Français).
func languageName(l string) string {
	switch l {
	case "de":
		return "Deutsch"
	case "en":
		return "English"
	case "fr":
		return "Français"
	}
	return l
}

func bkOnOffKey(on bool) string {
	if on {
		return "booking.settings.on"
	}
	return "booking.settings.off"
}

// auditValues shows a stored value: a JSON object as its fields in words (sorted by their
// label; price_cents and currency as one price), anything else as it is.
func auditValues(ctx context.Context, v string, loc *time.Location) []templates.AuditField {
	if v == "" {
		return nil
	}
	var m map[string]any
	if json.Unmarshal([]byte(v), &m) != nil {
		return []templates.AuditField{{Value: v}}
	}
	out := make([]templates.AuditField, 0, len(m))
	if c, ok := m["price_cents"].(float64); ok {
		cur, _ := m["currency"].(string)
		out = append(out, templates.AuditField{Key: auditFieldLabel(ctx, "price"), Value: i18n.Money(i18n.Lang(ctx), int64(c), cur)})
	}
	for k, x := range m {
		if auditHidden[k] {
			continue
		}
		out = append(out, templates.AuditField{Key: auditFieldLabel(ctx, k), Value: auditValue(ctx, k, x, loc)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// auditSubject names and links what an event concerns, from its stored object text: "pool 3",
// "call_recording pool 3", "pool 3 caller_notice", "call 5", a recording's or an announcement's
// path, "ftps", a webhook's URL.
func auditSubject(ctx context.Context, obj string, pools map[uint]string, subj models.AuditSubjects, loc *time.Location) templates.AuditSubject {
	f := strings.Fields(obj)
	poolName := func(id string) (string, string, bool) {
		n, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return "", "", false
		}
		name, ok := pools[uint(n)]
		if !ok {
			name = "#" + id
		}
		return i18n.T(ctx, "audit.subject_pool", map[string]any{"Name": name}), "/pools/" + id, true
	}
	switch {
	case len(f) == 2 && f[0] == "pool":
		if s, href, ok := poolName(f[1]); ok {
			return templates.AuditSubject{Text: s, Href: href}
		}
	case len(f) == 3 && f[1] == "pool":
		if s, href, ok := poolName(f[2]); ok {
			return templates.AuditSubject{Text: i18n.T(ctx, "module."+f[0]) + " · " + s, Href: href}
		}
	case len(f) == 3 && f[0] == "pool":
		if s, href, ok := poolName(f[1]); ok {
			return templates.AuditSubject{Text: s + " · " + i18n.T(ctx, calls.Slot(f[2]).ShortKey()), Href: href + "#announcements"}
		}
	case len(f) == 3 && f[1] == "customer":
		return templates.AuditSubject{Text: i18n.T(ctx, "module."+f[0])}
	case len(f) == 2 && f[0] == "call":
		n, _ := strconv.ParseUint(f[1], 10, 32)
		if c, ok := subj.Calls[uint(n)]; ok {
			caller := c.A
			if caller == "" {
				caller = i18n.T(ctx, "calls.withheld")
			}
			s := templates.AuditSubject{Text: i18n.T(ctx, "audit.subject_call", map[string]any{"Caller": caller,
				"Time": bookingTime(ctx, c.Arrival, loc)})}
			if c.FileID != 0 {
				s.Href = "/recordings/" + strconv.FormatUint(uint64(c.FileID), 10)
			}
			return s
		}
		return templates.AuditSubject{Text: i18n.T(ctx, "audit.subject_call_gone")}
	case len(f) == 1 && strings.HasPrefix(obj, models.RecordingsRoot+"/"):
		s := templates.AuditSubject{Text: i18n.T(ctx, "audit.subject_recording", map[string]any{"Name": path.Base(obj)})}
		if id, ok := subj.Files[obj]; ok {
			s.Href = "/recordings/" + strconv.FormatUint(uint64(id), 10)
		}
		return s
	case len(f) == 1 && strings.HasPrefix(obj, "announcements/"):
		return templates.AuditSubject{Text: i18n.T(ctx, "audit.subject_announcement", map[string]any{"Name": path.Base(obj)}),
			Href: "/files/announcements"}
	case obj == "ftps" || obj == "sftp":
		return templates.AuditSubject{Text: strings.ToUpper(obj)}
	case obj == "ftp_access":
		return templates.AuditSubject{Text: i18n.T(ctx, "module.ftp_access"), Href: "/ftp-access"}
	}
	return templates.AuditSubject{Text: obj}
}

// auditSubjectKeys are the recording paths and call ids a page of events names.
func auditSubjectKeys(es []models.AuditEvent) (paths []string, callIDs []uint) {
	for _, e := range es {
		switch f := strings.Fields(e.Object); {
		case len(f) == 2 && f[0] == "call":
			if n, err := strconv.ParseUint(f[1], 10, 32); err == nil {
				callIDs = append(callIDs, uint(n))
			}
		case len(f) == 1 && strings.HasPrefix(e.Object, models.RecordingsRoot+"/"):
			paths = append(paths, e.Object)
		}
	}
	return paths, callIDs
}

// foldListened folds a run of rows in which the same person listened to the same recording
// into its first (newest) row, with the count.
func foldListened(rows []templates.AuditRow) []templates.AuditRow {
	out := rows[:0:0]
	for _, r := range rows {
		if n := len(out); n > 0 && r.Kind == models.AuditRecordingListened && out[n-1].Kind == r.Kind &&
			out[n-1].User == r.User && out[n-1].Object == r.Object {
			out[n-1].Times++
			out[n-1].Since = r.At
			continue
		}
		if r.Kind == models.AuditRecordingListened {
			r.Times = 1
		}
		out = append(out, r)
	}
	return out
}
