package web

import (
	"strconv"
	"time"

	"callrec/i18n"
	"callrec/models"
	"callrec/templates"
)

// recordingRow is one line of the File Browser's list. It parses the file name only when the
// row's columns leave something open.
func recordingRow(f models.File, loc *time.Location, lang string) templates.RecordingRow {
	r := templates.RecordingRow{ID: f.ID, Name: f.Name, Href: "/recordings/" + strconv.FormatUint(uint64(f.ID), 10),
		A: f.A, B: f.B, C: f.C, Duration: fmtDuration(f.DurationMS), Size: i18n.Size(lang, f.Size)}
	if f.CallAt != nil {
		r.Date = i18n.DateTime(lang, f.CallAt.In(loc))
		if f.A != "" { // a recorded call: its columns say it all
			return r
		}
	}
	parts, ok := models.ParseRecName(f.Name, loc)
	if f.CallAt == nil && ok {
		r.Date = i18n.DateTime(lang, parts.At)
	}
	if ok && f.A == "" && f.B == "" && f.C == "" { // a file no call produced: the name tells
		r.A, r.B, r.C = parts.A, parts.B, parts.C
	}
	r.Withheld = r.A == "" && (ok || f.B != "")
	return r
}

// fmtDuration is m:ss, or h:mm:ss from an hour on (rounded to the second).
func fmtDuration(ms int64) string {
	sec := int((max(ms, 0) + 500) / 1000)
	b := make([]byte, 0, 16)
	if sec >= 3600 {
		b = append(i18n.AppendDigits(b, sec/3600, 1), ':')
		b = i18n.AppendDigits(b, sec/60%60, 2)
	} else {
		b = i18n.AppendDigits(b, sec/60, 1)
	}
	b = i18n.AppendDigits(append(b, ':'), sec%60, 2)
	return string(b)
}
