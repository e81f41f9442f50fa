package models

import (
	"context"
	"errors"
	"testing"
	"time"

	"callrec/calls"
	"callrec/internal/storetest"
)

func TestMaskNumber(t *testing.T) {
	for in, want := range map[string]string{
		"4915258878874":        "4915258XXX874", // the product document's example
		"":                     "",
		"7":                    "X",
		"12":                   "1X",
		"1234":                 "12X4",
		"123456":               "123X56",
		"491701234567":         "491701XXX567",
		"49711218431440":       "49711218XXX440",
		"12345678901234567890": "123456789012XXXXX890",
	} {
		if got := MaskNumber(in); got != want {
			t.Errorf("MaskNumber(%q) = %q, want %q", in, got, want)
		}
		if got := MaskNumber(in); len(got) != len(in) {
			t.Errorf("MaskNumber(%q) changed the length", in)
		}
	}
}

func TestCallLogScopeAndFilters(t *testing.T) {
	ctx := context.Background()
	s, err := Open(storetest.DSN(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	root := Actor{Role: RolePlatformAdmin}
	c1, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "A", SubscriberID: "1001", Language: "de", TimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "B", SubscriberID: "1002", Language: "de", TimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	save := func(id string, cust uint, a, c string, at time.Time, outcome calls.Outcome, ended bool) Call {
		r := CallRecord{EngineID: id, CustomerID: cust, PoolID: 7, A: a, B: "4971121843140", C: c, Arrival: at,
			Bridged: at.Add(2 * time.Second), State: "connected", RecState: "off", Mode: "manual"}
		if ended {
			r.Ended, r.State, r.Outcome = at.Add(62*time.Second), "ended", outcome
		}
		r.Events = []CallEventRecord{{At: at.Add(time.Second), Kind: "notice_played", By: "system"}, {At: at.Add(3 * time.Second), Kind: "recording_started", By: "alice"}}
		got, err := s.SaveCall(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	x := save("e1", c1.ID, "49711111", "4915258878874", base, calls.OutcomeCompleted, true)
	save("e2", c1.ID, "49722222", "4915299999999", base.Add(time.Hour), calls.OutcomeObjected, true)
	save("e3", c1.ID, "49733333", "4915258878874", base.Add(2*time.Hour), "", false)
	y := save("e4", c2.ID, "49744444", "4915258878874", base, calls.OutcomeCompleted, true)

	admin := Actor{UserID: 1, Role: RoleCustomerAdmin, CustomerID: c1.ID}
	agent := Actor{UserID: 2, Role: RoleAgent, CustomerID: c1.ID}
	yes, no := true, false
	// The customer's pool makes its numbers German: national numbers are searched with 49.
	if _, err := s.CreatePool(ctx, root, c1.ID, PoolInput{Name: "P", StartNumber: "4971121843140", Destination: "4915258878874",
		Numbers: []string{"49711218431431"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		a    Actor
		f    CallFilter
		want int64
	}{
		{"all of own customer", admin, CallFilter{}, 3},
		{"platform sees all", root, CallFilter{}, 4},
		{"outcome", admin, CallFilter{Outcome: OutcomeObjected}, 1},
		{"ended", admin, CallFilter{Ended: &yes}, 2},
		{"active", admin, CallFilter{Ended: &no}, 1},
		{"date range", admin, CallFilter{From: base.Add(30 * time.Minute), To: base.Add(90 * time.Minute)}, 1},
		{"caller number", admin, CallFilter{Number: "7222"}, 1},
		{"caller number, national", admin, CallFilter{Number: "0722 22"}, 1},
		{"caller number, 00 and country code", admin, CallFilter{Number: "0049 7222"}, 1},
		{"national, another country's digits", admin, CallFilter{Number: "04972"}, 0},
		{"destination for authorized", admin, CallFilter{Number: "878874"}, 2},
		{"destination hidden from agent", agent, CallFilter{Number: "878874"}, 0},
		{"other pool", admin, CallFilter{PoolID: 8}, 0},
	} {
		got, err := s.Calls(ctx, tc.a, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != tc.want || int64(len(got.Calls)) != tc.want {
			t.Errorf("%s: total %d rows %d, want %d", tc.name, got.Total, len(got.Calls), tc.want)
		}
	}
	page, _ := s.Calls(ctx, admin, CallFilter{PerPage: 2, Page: 2})
	if page.Total != 3 || len(page.Calls) != 1 || page.Pages() != 2 || page.Calls[0].EngineID != "e1" {
		t.Errorf("page 2: %+v", page)
	}
	full, err := s.CallWithTrail(ctx, agent, x.ID)
	if err != nil || len(full.Events) != 2 || full.Events[1].By != "alice" || full.DurationMS != 60000 {
		t.Fatalf("call with trail: %+v %v", full, err)
	}
	if _, err := s.CallWithTrail(ctx, admin, y.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other customer's call: %v", err)
	}
	ids, err := s.CallIDs(ctx, admin, []string{"e1", "e3", "e4", "nope"})
	if err != nil || len(ids) != 2 || ids["e1"] != x.ID {
		t.Fatalf("CallIDs: %v %v", ids, err)
	}
}
