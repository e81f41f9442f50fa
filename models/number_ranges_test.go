package models

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"

	"callrec/internal/storetest"
)

func TestRangeOverlaps(t *testing.T) {
	p := func(s string) NumberRange { return NumberRange{FirstNumber: s} }
	sp := func(a, b string) NumberRange { return NumberRange{FirstNumber: a, LastNumber: b} }
	for _, c := range []struct {
		a, b NumberRange
		want bool
	}{
		{p("4971"), p("49711"), true}, {p("4971"), p("4972"), false},
		{sp("4971100", "4971199"), sp("4971150", "4971250"), true}, {sp("4971100", "4971199"), sp("4971200", "4971299"), false},
		{sp("4971100", "4971199"), sp("49711000", "49711999"), false}, // other lengths never meet
		{sp("4971100", "4971199"), p("49711"), true}, {sp("4971100", "4971199"), p("4971200"), false}, {sp("4971100", "4971199"), p("4971120"), true},
		{sp("4971100", "4971199"), p("497119"), true}, {sp("4971100", "4971105"), p("4971106"), false},
		{sp("4971100", "4971199"), p("49711999"), false}, // a prefix longer than the span's numbers
		{p("49711"), sp("4971100", "4971199"), true},
	} {
		if got := c.a.Overlaps(c.b); got != c.want {
			t.Errorf("%v overlaps %v: %v", c.a, c.b, got)
		}
		if got := c.b.Overlaps(c.a); got != c.want {
			t.Errorf("%v overlaps %v: %v (reversed)", c.b, c.a, got)
		}
	}
}

func TestE164(t *testing.T) {
	for in, want := range map[string]string{
		"+49 711 218431-40": "4971121843140", "0049 711 21843140": "4971121843140", "4971121843140": "4971121843140",
		"+49 (0)711 21843140": "4971121843140", "0711 21843140": "", "+49 711 2184314012345": "", "49+711": "",
		"+49 711 abc": "", "": "", "++49711": "",
	} {
		if got := E164(in); got != want {
			t.Errorf("E164(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBlockedDestinationsByDefault: the default rule refuses Germany's premium and special
// numbers in every form they can be written, and lets ordinary numbers through.
func TestBlockedDestinationsByDefault(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	for dest, want := range map[string]bool{
		"09001234567": false, "49900123456": false, "0049900123456": false,
		"01371234567": false, "4913712345": false, "01805123456": false, "491805123456": false,
		"01901234": false, "01931234": false, "11833": false, "4911833": false, "004911833": false, "0118833": false,
		"112": false, "110": false, "116116": false, "8816123456": false, "0088216123456": false, "979123456789": false,
		"4915258878874": true, "0711123456": true, "004971121843140": true, "4930555999": true, "01701234567": true,
	} {
		ok, err := s.DestinationAllowed(ctx, 1, dest)
		if err != nil {
			t.Fatal(err)
		}
		if ok != want {
			t.Errorf("destination %s allowed: %v, want %v", dest, ok, want)
		}
	}
	root := Actor{Role: RolePlatformAdmin, Username: "admin"}
	c, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "C", SubscriberID: "1", Language: "de", TimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetDestinationRules(ctx, root, "", c.ID, ParseRuleList("+49 180 5 # their own hotline\n")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.DestinationAllowed(ctx, c.ID, "01805123456"); !ok {
		t.Error("the customer's allowed prefix does not allow 01805…")
	}
	if ok, _ := s.DestinationAllowed(ctx, c.ID, "01801123456"); ok {
		t.Error("the allowed prefix 491805 allows 01801…")
	}
	if ok, _ := s.DestinationAllowed(ctx, c.ID+1, "01805123456"); ok {
		t.Error("another customer's allowed prefix counts")
	}
	if _, err := s.SetDestinationRules(ctx, root, "", 0, ParseRuleList("0900\nabc")); !errors.Is(err, ErrPrefixInvalid) {
		t.Errorf("a list with a bad line: %v", err)
	}
}

// TestRangesMigrationKeepsExistingPools: a database from before number ranges (migrations 1-7,
// pools with numbers) gets every number in use assigned to its customer by migration 8:
// interleaved numbers of two customers become ranges that do not overlap, a start number that
// is another customer's pool number stays that customer's, the customers' admins can save their
// pools as they are, a neighbour number stays unassigned, and the default blocked list is there.
func TestRangesMigrationKeepsExistingPools(t *testing.T) {
	ctx := context.Background()
	s, err := Connect(storetest.EmptyDSN(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var before []Migration
	for _, m := range migrations {
		if m.Version < 8 {
			before = append(before, m)
		}
	}
	if _, err := s.migrateTo(ctx, before); err != nil {
		t.Fatal(err)
	}
	// As the build before the ranges wrote them (its frozen models).
	nums := [2][]string{{"4971100", "4971101", "4971103"}, {"4971102", "4971104"}}
	starts := [2]string{"4971100", "4971103"} // the second: a number of the first customer's pool
	var cust [2]v1Customer
	var pools [2]v1Pool
	for i := range cust {
		cust[i] = v1Customer{Name: "C", SubscriberID: string(rune('1' + i)), Language: "de", TimeZone: "Europe/Berlin"}
		if err := s.db.Create(&cust[i]).Error; err != nil {
			t.Fatal(err)
		}
		pools[i] = v1Pool{CustomerID: cust[i].ID, Name: "P", StartNumber: starts[i], Destination: "4915258878874"}
		for _, n := range nums[i] {
			pools[i].Numbers = append(pools[i].Numbers, v1PoolNumber{Number: n})
		}
		if err := s.db.Create(&pools[i]).Error; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	root := Actor{Role: RolePlatformAdmin, Username: "admin"}
	all, err := s.NumberRanges(ctx, root, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint][]string{}
	for i, r := range all {
		got[r.CustomerID] = append(got[r.CustomerID], r.String())
		for _, o := range all[i+1:] {
			if r.Overlaps(o) {
				t.Errorf("ranges %v and %v overlap", r, o)
			}
		}
	}
	if want := map[uint][]string{cust[0].ID: {"4971100–4971101", "4971103"}, cust[1].ID: {"4971102", "4971104"}}; !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("ranges after the migration: %v, want %v", got, want)
	}
	for i := range cust {
		admin := Actor{UserID: 100 + uint(i), Username: "a", CustomerID: cust[i].ID, Role: RoleCustomerAdmin}
		if _, err := s.UpdatePool(ctx, admin, pools[i].ID, PoolInput{Name: "renamed", StartNumber: starts[i], Destination: "4915258878874", Numbers: nums[i]}); err != nil {
			t.Errorf("customer %d saves its pool as it is: %v", i, err)
		}
	}
	admin := Actor{UserID: 100, Username: "a", CustomerID: cust[0].ID, Role: RoleCustomerAdmin}
	_, err = s.UpdatePool(ctx, admin, pools[0].ID, PoolInput{Name: "P", StartNumber: "4971100", Destination: "4915258878874",
		Numbers: append(nums[0], "4971105")})
	var ve ValidationError
	if !errors.As(err, &ve) || ve[0].Err != ErrNumberNotAssigned {
		t.Fatalf("a neighbour number: %v", err)
	}
	if ok, _ := s.DestinationAllowed(ctx, cust[0].ID, "09001234"); ok {
		t.Error("the default blocked list was not written")
	}
	if p, _ := s.Pool(ctx, root, pools[0].ID); p.MaxCalls != 0 {
		t.Errorf("an old pool's call cap: %d", p.MaxCalls)
	}
}

func TestCompressNumbers(t *testing.T) {
	var got []string
	for _, r := range compressNumbers([]string{"4971109", "4971110", "4971111", "4971111", "4971120", "497111", "4971199", "4971200"}) {
		got = append(got, r.String())
	}
	want := []string{"497111", "4971109–4971111", "4971120", "4971199–4971200"}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
}
