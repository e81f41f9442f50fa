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
		"490900123456": false, "00490900123456": false, "0101909001234567": false, "010012": false,
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

// TestDestinationLoopRefused: a pool cannot forward to a number of the customer's own pools, in
// any form, nor take as a number what another of its pools forwards to: the call would come back
// through the trunk and go out again, a paid leg each round.
func TestDestinationLoopRefused(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	root := Actor{Role: RolePlatformAdmin, Username: "admin"}
	c, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "C", SubscriberID: "1", Language: "de", TimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AssignRange(ctx, root, c.ID, RangeInput{From: "4971100", To: "4971199"}); err != nil {
		t.Fatal(err)
	}
	admin := Actor{UserID: 100, Username: "a", CustomerID: c.ID, Role: RoleCustomerAdmin}
	p1, err := s.CreatePool(ctx, admin, c.ID, PoolInput{Name: "P1", StartNumber: "4971100", Destination: "4915258878874", Numbers: []string{"4971100", "4971101"}})
	if err != nil {
		t.Fatal(err)
	}
	isLoopIn := func(field string, err error) bool {
		var ve ValidationError
		return errors.As(err, &ve) && ve[0].Field == field && ve[0].Err == ErrDestinationLoop
	}
	isLoop := func(err error) bool { return isLoopIn("destination", err) }
	for _, dest := range []string{"4971101", "004971101"} { // another pool's number
		if _, err := s.CreatePool(ctx, admin, c.ID, PoolInput{Name: "P2", StartNumber: "4971110", Destination: dest, Numbers: []string{"4971110"}}); !isLoop(err) {
			t.Errorf("destination %s, a number of the customer's other pool: %v", dest, err)
		}
	}
	if _, err := s.CreatePool(ctx, admin, c.ID, PoolInput{Name: "P2", StartNumber: "4971110", Destination: "4971111", Numbers: []string{"4971110", "4971111"}}); !isLoop(err) {
		t.Errorf("destination among the pool's own numbers: %v", err)
	}
	p2, err := s.CreatePool(ctx, admin, c.ID, PoolInput{Name: "P2", StartNumber: "4971110", Destination: "4971120", Numbers: []string{"4971110"}})
	if err != nil {
		t.Fatal(err)
	}
	// P2 forwards to 4971120: that number cannot go into P1.
	if _, err := s.UpdatePool(ctx, admin, p1.ID, PoolInput{Name: "P1", StartNumber: "4971100", Destination: "4915258878874", Numbers: []string{"4971100", "4971101", "4971120"}}); !isLoopIn("numbers", err) {
		t.Errorf("adding another pool's destination as a number: %v", err)
	}
	if _, err := s.UpdatePool(ctx, admin, p2.ID, PoolInput{Name: "P2", StartNumber: "4971110", Destination: "4971120", Numbers: []string{"4971110", "4971112"}}); err != nil {
		t.Errorf("an ordinary save: %v", err)
	}
}

// TestPoolOutsideRangesKeepsWorking: a pool whose numbers lie in no range of its customer (data
// the ranges' migration could not assign, or copied in from elsewhere) still routes calls and
// saves as it is; its customer admin may remove numbers, but a number once removed comes back
// only from the customer's ranges, or through the platform admin (which assigns it).
func TestPoolOutsideRangesKeepsWorking(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	root := Actor{Role: RolePlatformAdmin, Username: "admin"}
	c, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "C", SubscriberID: "1", Language: "de", TimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	in := PoolInput{Name: "P", StartNumber: "4971100", Destination: "4915258878874", Numbers: []string{"4971100", "4971101", "4971102"}}
	p, err := s.CreatePool(ctx, root, c.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.NumberRanges(ctx, root, c.ID); len(rs) != 1 || rs[0].String() != "4971100–4971102" {
		t.Fatalf("the platform admin's pool assigned %v", rs)
	}
	if err := s.db.Exec("DELETE FROM number_ranges").Error; err != nil {
		t.Fatal(err)
	}
	if got, err := s.PoolByNumber(ctx, "4971101"); err != nil || got.ID != p.ID {
		t.Fatalf("a call to a number outside the ranges: %v %v", got.ID, err)
	}
	admin := Actor{UserID: 100, Username: "a", CustomerID: c.ID, Role: RoleCustomerAdmin}
	in.Name = "renamed"
	if _, err := s.UpdatePool(ctx, admin, p.ID, in); err != nil {
		t.Fatalf("saving as it is: %v", err)
	}
	in.Numbers = []string{"4971100", "4971101"}
	if _, err := s.UpdatePool(ctx, admin, p.ID, in); err != nil {
		t.Fatalf("removing a number: %v", err)
	}
	in.Numbers = []string{"4971100", "4971101", "4971102"}
	var ve ValidationError
	if _, err := s.UpdatePool(ctx, admin, p.ID, in); !errors.As(err, &ve) || ve[0].Err != ErrNumberNotAssigned {
		t.Fatalf("re-adding the removed number: %v", err)
	}
	in.StartNumber = "4971101"
	in.Numbers = []string{"4971100", "4971101"}
	if _, err := s.UpdatePool(ctx, admin, p.ID, in); !errors.As(err, &ve) || ve[0].Field != "start_number" {
		t.Fatalf("a new start number outside the ranges: %v", err)
	}
	in.StartNumber = "4971100"
	in.Numbers = []string{"4971100", "4971101", "4971102"}
	if _, err := s.UpdatePool(ctx, root, p.ID, in); err != nil {
		t.Fatalf("the platform admin re-adds it: %v", err)
	}
	if rs, _ := s.NumberRanges(ctx, root, c.ID); len(rs) != 1 || rs[0].String() != "4971102" {
		t.Fatalf("after the platform admin's save: %v", rs)
	}
}
