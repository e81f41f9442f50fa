package models

import (
	"context"
	"errors"

	"gorm.io/gorm"
)

// DemoUsers are the logins SeedDemo created, with their passwords.
type DemoUsers struct {
	Admin, AdminPassword, Agent, AgentPassword string
}

// SeedDemo creates the worked example of the product document: customer 337826, pool with start
// number 4971121843140 whose numbers include 4971121843140 and 49711218431431, destination
// 4915258878874, the numbers beginning 497112184314 assigned to it, a customer admin and an
// agent. It does nothing when the customer exists already.
//
// It runs in one transaction under the bootstrap lock: processes starting with --demo at once
// seed it once, and a failure leaves no half demo.
func (s *Store) SeedDemo(ctx context.Context) (DemoUsers, bool, error) {
	var d DemoUsers
	seeded := false
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		seeded = false
		if err := s.d.lock(tx, bootstrapLock); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&Customer{}).Where("subscriber_id = ?", "337826").Count(&n).Error; err != nil || n > 0 {
			return err
		}
		var err error
		d, err = s.in(tx).seedDemo(ctx)
		seeded = err == nil
		return err
	})
	if err != nil || !seeded {
		return DemoUsers{}, false, err
	}
	return d, true, nil
}

func (s *Store) seedDemo(ctx context.Context) (DemoUsers, error) {
	root := Actor{Role: RolePlatformAdmin}
	c, err := s.CreateCustomer(ctx, root, CustomerInput{Name: "Demo GmbH", SubscriberID: "337826", Language: "de", TimeZone: "Europe/Berlin"})
	if err != nil {
		return DemoUsers{}, err
	}
	// The block the worked example's numbers come from, so the demo admin can add more of them.
	if _, err := s.AssignRange(ctx, root, c.ID, RangeInput{From: "497112184314"}); err != nil {
		return DemoUsers{}, err
	}
	if _, err := s.CreatePool(ctx, root, c.ID, PoolInput{
		Name: "Demo-Pool Stuttgart", StartNumber: "4971121843140", Destination: "4915258878874",
		Numbers: []string{"4971121843140", "49711218431431", "49711218431432"},
	}); err != nil {
		return DemoUsers{}, err
	}
	d := DemoUsers{Admin: "demo-admin", AdminPassword: GeneratePassword(), Agent: "demo-agent", AgentPassword: GeneratePassword()}
	if _, err := s.CreateUser(ctx, root, c.ID, UserInput{Username: d.Admin, Password: d.AdminPassword, Role: RoleCustomerAdmin, CanOpenRecordings: true}); err != nil {
		return DemoUsers{}, err
	}
	if _, err := s.CreateUser(ctx, root, c.ID, UserInput{Username: d.Agent, Password: d.AgentPassword, Role: RoleAgent}); err != nil {
		return DemoUsers{}, err
	}
	for _, m := range Modules {
		price := map[string]string{ModuleCallRecording: "19.90", ModuleFTPAccess: "9.90"}[m]
		if err := s.SetPrice(ctx, root, m, price, "EUR"); err != nil && !errors.Is(err, ErrNotFound) {
			return DemoUsers{}, err
		}
	}
	return d, nil
}
