package enginestore

import (
	"context"
	"testing"

	"callrec/media"
)

// A call still ending after the shutdown (its peer never answered the BYE) reports to a closed
// sink: the event is dropped, nothing panics.
func TestSinkAfterClose(t *testing.T) {
	f := newFixture(t)
	s := NewSink(nil)
	s.Start(f.store, nil)
	s.Close()
	s.CallChanged(context.Background(), media.CallInfo{ID: "late"})
	s.CallEnded(context.Background(), media.CallInfo{ID: "late"})
}
