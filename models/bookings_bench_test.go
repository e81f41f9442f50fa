package models

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func timeSeconds(i int) time.Duration { return time.Duration(i) * time.Second }

// BenchmarkRecordingPolicy is the engine's question for every incoming call to a booked pool.
func BenchmarkRecordingPolicy(b *testing.B) {
	f := newBookingFixture(b)
	ctx := context.Background()
	if _, _, err := f.s.BookCallRecording(ctx, f.admin, f.pool.ID, BookingInput{Accepted: true, Notice: notice}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := f.s.RecordingPolicy(ctx, f.pool.ID)
		if err != nil || !p.Active {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuditEvents lists the first, a middle and the last page of a customer's log of
// 100,000 events (offset paging), with and without a kind filter.
func BenchmarkAuditEvents(b *testing.B) {
	f := newBookingFixture(b)
	ctx := context.Background()
	const n = 100_000
	events := make([]AuditEvent, 0, 1000)
	base := f.clock
	for i := 0; i < n; i++ {
		kind := "settings.changed"
		if i%10 == 0 {
			kind = "booking.created"
		}
		cid := f.customer.ID
		if i%2 == 1 {
			cid = f.otherCustm.ID
		}
		events = append(events, AuditEvent{CustomerID: cid, At: base.Add(-timeSeconds(i)), UserID: 10, Username: "boss",
			Kind: kind, Object: "call_recording pool 1", OldValue: `{"mode":"automatic"}`, NewValue: `{"mode":"manual"}`})
		if len(events) == cap(events) {
			if err := f.s.db.CreateInBatches(events, 500).Error; err != nil {
				b.Fatal(err)
			}
			events = events[:0]
		}
	}
	for _, tc := range []struct {
		name string
		f    AuditFilter
		page int
	}{
		{"first", AuditFilter{}, 1},
		{"middle", AuditFilter{}, 500},
		{"last", AuditFilter{}, 1000},
		{"kind-first", AuditFilter{Kind: "booking.created"}, 1},
		{"range-first", AuditFilter{From: base.Add(-timeSeconds(20000)), To: base.Add(-timeSeconds(10000))}, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pg, err := f.s.AuditEvents(ctx, f.admin, tc.f, tc.page, 0)
				if err != nil || len(pg.Events) == 0 {
					b.Fatal(fmt.Sprint(err, pg.Total))
				}
			}
		})
	}
}
