package models

import (
	"context"
	"errors"
	"testing"
	"time"

	"callrec/internal/storetest"
)

// TestReadCacheFollowsWrites checks that the cached lookups (session user, API token, folder
// owner, pool owner) see every change made through the Store at once, that a write by another
// process is seen within readCacheTTL, and that callers get copies.
func TestReadCacheFollowsWrites(t *testing.T) {
	ctx := context.Background()
	s, err := Open(storetest.DSN(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	root := Actor{Role: RolePlatformAdmin}
	c, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "A", SubscriberID: "337826", Language: "de"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, root, c.ID, UserInput{Username: "agent1", Password: "a-long-password", Role: RoleAgent, CanOpenRecordings: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePool(ctx, root, c.ID, PoolInput{Name: "P", StartNumber: "4971121843140", Destination: "4915258878874", Numbers: []string{"49711218431431"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateAPIToken(ctx, "agent1", "t")
	if err != nil {
		t.Fatal(err)
	}
	admin := Actor{UserID: 99, CustomerID: c.ID, Role: RoleCustomerAdmin}
	folder := "call_recording/337826/4971121843140"

	// Warm every entry, twice (the second answer comes from the cache).
	for range 2 {
		if got, err := s.UserByID(ctx, u.ID); err != nil || !got.CanOpenRecordings || got.Customer == nil || got.Customer.Name != "A" {
			t.Fatalf("user: %+v %v", got, err)
		}
		if got, err := s.UserByToken(ctx, tok); err != nil || got.ID != u.ID {
			t.Fatalf("token: %+v %v", got, err)
		}
		if got, err := s.FolderOwner(ctx, admin, folder); err != nil || got.ID != c.ID {
			t.Fatalf("owner: %+v %v", got, err)
		}
		if err := s.CheckPool(ctx, admin, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Answers are copies: changing one changes nothing for the next caller.
	got, _ := s.UserByID(ctx, u.ID)
	got.Customer.Name, *got.CustomerID = "changed", 12345
	if again, _ := s.UserByID(ctx, u.ID); again.Customer.Name != "A" || *again.CustomerID != c.ID {
		t.Fatalf("the cached user changed with its copy: %+v", again)
	}

	// Changes through the Store are seen at once.
	if _, err := s.UpdateUser(ctx, root, u.ID, UserInput{Role: RoleAgent}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserByID(ctx, u.ID); err != nil || got.CanOpenRecordings {
		t.Fatalf("after revoking the permission: %+v %v", got, err)
	}
	if _, err := s.UpdateUser(ctx, root, u.ID, UserInput{Role: RoleAgent, Disabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByID(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("disabled user still found: %v", err)
	}
	if _, err := s.UserByToken(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("disabled user's token still works: %v", err)
	}
	if _, err := s.UpdateCustomer(ctx, root, c.ID, CustomerInput{Name: "A", SubscriberID: "337827", Language: "de"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FolderOwner(ctx, admin, folder); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old subscriber ID still owns the folder: %v", err)
	}
	oc, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "B", SubscriberID: "999001", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckPool(ctx, admin, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.db.WithContext(ctx).Model(&Pool{}).Where("id = ?", p.ID).Update("customer_id", oc.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.CheckPool(ctx, admin, p.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a pool moved to another customer is still seen: %v", err)
	}

	// Another process (the CLI) writing the file: seen within readCacheTTL.
	if _, err := s.UpdateUser(ctx, root, u.ID, UserInput{Role: RoleAgent, CanOpenRecordings: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByID(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	other := openRaw(t, s)
	if _, err := other.Exec("UPDATE users SET disabled = ? WHERE id = ?", true, u.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(readCacheTTL + time.Second)
	for {
		if _, err := s.UserByID(ctx, u.ID); errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a user disabled by another process is still found after %v", readCacheTTL+time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPoolNamesFollowWrites: the pool names the File Browser shows come from the read cache and
// follow a rename through the Store at once, and one by another process within readCacheTTL.
func TestPoolNamesFollowWrites(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	root := Actor{Role: RolePlatformAdmin}
	c, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "A", SubscriberID: "337826", Language: "de"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePool(ctx, root, c.ID, PoolInput{Name: "Sales", StartNumber: "4971121843140", Destination: "4915258878874", Numbers: []string{"49711218431431"}})
	if err != nil {
		t.Fatal(err)
	}
	admin := Actor{UserID: 99, CustomerID: c.ID, Role: RoleCustomerAdmin}
	names := func() string {
		t.Helper()
		m, err := s.PoolNamesByStart(ctx, admin, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return m["4971121843140"]
	}
	if names() != "Sales" || names() != "Sales" {
		t.Fatalf("pool names: %q", names())
	}
	if m, _ := s.PoolNamesByStart(ctx, Actor{UserID: 98, CustomerID: c.ID + 1, Role: RoleCustomerAdmin}, c.ID); len(m) != 0 {
		t.Fatalf("another customer's admin sees the pool names: %v", m)
	}
	if err := s.db.WithContext(ctx).Model(&Pool{}).Where("id = ?", p.ID).Update("name", "Support").Error; err != nil {
		t.Fatal(err)
	}
	if got := names(); got != "Support" {
		t.Fatalf("after a rename through the Store: %q", got)
	}
	if _, err := openRaw(t, s).Exec("UPDATE pools SET name = ? WHERE id = ?", "Billing", p.ID); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(readCacheTTL + time.Second); names() != "Billing"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a rename by another process is not seen after %v: %q", readCacheTTL+time.Second, names())
		}
	}
}
