package web

import (
	"strconv"
	"time"

	"callrec/i18n"
	"callrec/models"
	"callrec/templates"
)

// recordingRow is one line of the File Browser's list. It runs 50 times per page, so it
// formats by hand what fmt and time.Format would (TestRecordingRowFormats compares them), and
// parses the file name only when the row's columns leave something open.
func recordingRow(f models.File, loc *time.Location, lang string) templates.RecordingRow {
	r := templates.RecordingRow{ID: f.ID, Name: f.Name, Href: "/recordings/" + strconv.FormatUint(uint64(f.ID), 10),
		A: f.A, B: f.B, C: f.C, Duration: fmtDuration(f.DurationMS), Size: i18n.Size(lang, f.Size)}
	if f.CallAt != nil {
		r.Date = fmtDateTime(f.CallAt.In(loc), lang)
		if f.A != "" { // a recorded call: its columns say it all
			return r
		}
	}
	parts, ok := models.ParseRecName(f.Name, loc)
	if f.CallAt == nil && ok {
		r.Date = fmtDateTime(parts.At, lang)
	}
	if ok && f.A == "" && f.B == "" && f.C == "" { // a file no call produced: the name tells
		r.A, r.B, r.C = parts.A, parts.B, parts.C
	}
	r.Withheld = r.A == "" && (ok || f.B != "")
	return r
}

// fmtDateTime is i18n.DateTime, in one allocation.
func fmtDateTime(t time.Time, lang string) string {
	return string(i18n.AppendDateTime(lang, make([]byte, 0, 16), t))
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
