package models

import (
	"context"
	"strconv"
	"testing"
	"time"

	"callrec/internal/storetest"
)

// BenchmarkCallLog pages the call log of a customer with 50,000 of 100,000 calls, 50 per page,
// with the preloads (recording, consent trail) the page shows.
func BenchmarkCallLog(b *testing.B) {
	ctx := context.Background()
	s, err := Open(storetest.DSN(b, ""))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	calls := make([]Call, 0, 1000)
	for i := 0; i < 100000; i++ {
		end := base.Add(time.Duration(i)*time.Minute + 90*time.Second)
		calls = append(calls, Call{EngineID: "e" + strconv.Itoa(i), CustomerID: uint(i%2 + 1), PoolID: uint(i%4 + 1),
			A: "4971100" + strconv.Itoa(100000+i), B: "49711218431431", C: "4915258878874", Arrival: base.Add(time.Duration(i) * time.Minute),
			Ended: &end, State: "ended", RecState: "stopped", Mode: "manual", Outcome: OutcomeCompleted, DurationMS: 90000, RecordedMS: 30000})
		if len(calls) == cap(calls) {
			if err := s.db.CreateInBatches(calls, 500).Error; err != nil {
				b.Fatal(err)
			}
			calls = calls[:0]
		}
	}
	a := Actor{UserID: 1, Role: RoleCustomerAdmin, CustomerID: 1}
	for _, bc := range []struct {
		name string
		f    CallFilter
	}{
		{"first", CallFilter{}},
		{"last", CallFilter{Page: 1000}},
		{"pool", CallFilter{PoolID: 3}},
		{"day", CallFilter{From: base.AddDate(0, 0, 30), To: base.AddDate(0, 0, 31)}},
		{"number", CallFilter{Number: "1234"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				l, err := s.Calls(ctx, a, bc.f)
				if err != nil || l.Total == 0 {
					b.Fatal(l.Total, err)
				}
			}
		})
	}
}
