package templates

import (
	"bytes"
	"context"
	"io"
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
