package templates

import (
	"bytes"
	"context"
	"io"
	"strconv"

	"github.com/a-h/templ"
)

// HTML is markup this package rendered earlier (RecordingListHTML), kept by the caller and
// written as it is.
type HTML []byte

// Render writes the markup.
func (h HTML) Render(_ context.Context, w io.Writer) error {
	_, err := w.Write(h)
	return err
}

// RecordingListHTML renders the recordings list of a folder page (Files shows it). It holds
// nothing of the session: the bulk form's CSRF token is a field outside it (form="bulk"), so
// the File Browser can keep the list with the listing it shows.
func RecordingListHTML(ctx context.Context, l RecordingList) (HTML, error) {
	b := bytes.NewBuffer(make([]byte, 0, 640*len(l.Rows)+12<<10)) // ~0.6 kB a row, ~10 kB around them
	if err := recordingList(l).Render(ctx, b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// recordingRows writes the recordings list's table rows. It is Go rather than templ markup
// because it is the File Browser's hot loop: templ passes each of a row's values through
// fmt.Sprint and a fresh escaped string, which for a page of 50 rows cost more than reading the
// rows from the database (BENCHMARKS.md, File Browser). The markup is the same as a templ row
// would give, each value escaped as templ escapes it.
func recordingRows(rows []RecordingRow) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		withheld, play := t(ctx, "files.withheld"), t(ctx, "files.play")
		b := make([]byte, 0, 1024) // one row at a time: w buffers
		for _, r := range rows {
			id := strconv.FormatUint(uint64(r.ID), 10)
			caller := r.A
			if r.Withheld {
				caller = withheld
			}
			b = append(b[:0], `<tr data-testid="file-row-`...)
			b = append(b, id...)
			b = append(b, `"><td><input type="checkbox" name="id" value="`...)
			b = append(b, id...)
			b = append(b, `" aria-label="`...)
			b = appendEscaped(b, r.Name)
			b = append(b, `" data-testid="select-`...)
			b = append(b, id...)
			b = append(b, `"></td><td class="play"><button type="button" class="play" data-src="`...)
			b = appendEscaped(b, string(templ.URL(r.Href+"/audio")))
			b = append(b, `" aria-label="`...)
			b = appendEscaped(b, play+": "+caller+" → "+r.B+", "+r.Date)
			b = append(b, `" aria-pressed="false" data-testid="play-`...)
			b = append(b, id...)
			b = append(b, `"><span class="play-icon" aria-hidden="true"></span></button></td><td class="name"><a href="`...)
			b = appendEscaped(b, string(templ.URL(r.Href)))
			b = append(b, `" data-testid="file-link">`...)
			if r.B != "" || caller != "" {
				b = appendEscaped(b, caller)
				b = append(b, ` → `...)
				b = appendEscaped(b, r.B)
				b = append(b, `</a><span class="file-name">`...)
				b = appendEscaped(b, r.Name)
				b = append(b, `</span>`...)
			} else {
				b = appendEscaped(b, r.Name)
				b = append(b, `</a>`...)
			}
			b = append(b, `</td><td class="num">`...)
			b = appendEscaped(b, r.Date)
			b = append(b, `</td><td class="num">`...)
			if r.Withheld {
				b = append(b, `<span class="muted">`...)
				b = appendEscaped(b, withheld)
				b = append(b, `</span>`...)
			} else {
				b = appendEscaped(b, r.A)
			}
			for _, v := range []string{r.B, r.C, r.Duration, r.Size} {
				b = append(b, `</td><td class="num">`...)
				b = appendEscaped(b, v)
			}
			b = append(b, `</td><td>`...)
			b = appendEscaped(b, r.Pool)
			b = append(b, `</td><td class="num">`...)
			b = appendEscaped(b, r.Recorded)
			b = append(b, `</td><td>`...)
			if r.Consent != "" {
				b = appendEscaped(b, t(ctx, r.Consent))
			}
			b = append(b, `</td></tr>`...)
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// appendEscaped appends s with the characters templ escapes in text and attributes (those of
// html.EscapeString) replaced by entities.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		start = i + 1
	}
	return append(b, s[start:]...)
}
