package models

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Pool is a number pool: the call-tracking numbers that route to one destination.
type Pool struct {
	ID          uint `gorm:"primaryKey"`
	CustomerID  uint `gorm:"index;not null"`
	Customer    *Customer
	Name        string `gorm:"not null"`
	StartNumber string `gorm:"not null"` // names the pool's recordings folder
	Destination string `gorm:"not null"`
	// MaxCalls caps the pool's concurrent calls in the engine (the platform admin sets it);
	// 0: the engine's default.
	MaxCalls  int `gorm:"not null;default:0"`
	Numbers   []PoolNumber
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PoolNumber is one member number; unique across the platform so a call finds exactly one pool.
type PoolNumber struct {
	ID     uint   `gorm:"primaryKey"`
	PoolID uint   `gorm:"index;not null"`
	Number string `gorm:"uniqueIndex;not null"`
}

// NumberList returns the member numbers in order.
func (p Pool) NumberList() []string {
	ns := make([]string, len(p.Numbers))
	for i, n := range p.Numbers {
		ns[i] = n.Number
	}
	sort.Strings(ns)
	return ns
}

// PoolInput is what the pool form edits.
type PoolInput struct {
	Name        string
	StartNumber string
	Destination string
	Numbers     []string
	// MaxCalls is the platform admin's cap of concurrent calls (nil: unchanged); a customer
	// admin may not set it.
	MaxCalls *int
}

// MaxPoolCalls bounds Pool.MaxCalls.
const MaxPoolCalls = 10000

// ParseNumbers splits a text area of numbers (lines, commas, spaces).
func ParseNumbers(text string) []string {
	f := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ';' || r == '\n' || r == '\r' || r == ' ' || r == '\t' })
	seen := map[string]bool{}
	var out []string
	for _, n := range f {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func validNumber(n string) bool { return digitsRE.MatchString(n) && len(n) >= 3 && len(n) <= 20 }

func (in *PoolInput) validate() ValidationError {
	var v ValidationError
	in.Name = strings.TrimSpace(in.Name)
	in.StartNumber = strings.TrimSpace(in.StartNumber)
	in.Destination = strings.TrimSpace(in.Destination)
	if in.Name == "" || len(in.Name) > 200 {
		v.add("name", ErrRequired)
	}
	if !validNumber(in.StartNumber) {
		v.add("start_number", ErrNumberInvalid)
	}
	if !validNumber(in.Destination) {
		v.add("destination", ErrNumberInvalid)
	}
	if len(in.Numbers) == 0 {
		v.add("numbers", ErrNumbersRequired)
	}
	for _, n := range in.Numbers {
		if !validNumber(n) {
			v.add("numbers", ErrNumberInvalid)
			break
		}
	}
	if len(in.Numbers) > 10000 {
		v.add("numbers", ErrTooManyNumbers)
	}
	return v
}

// Pools lists the pools a may see.
func (s *Store) Pools(ctx context.Context, a Actor) ([]Pool, error) {
	var ps []Pool
	err := a.customerScope(s.bounded(ctx)).Preload("Numbers").Preload("Customer").Order("name, id").Find(&ps).Error
	return ps, err
}

// Pool loads one pool a may see; another customer's pool is ErrNotFound.
func (s *Store) Pool(ctx context.Context, a Actor, id uint) (Pool, error) {
	var p Pool
	err := a.customerScope(s.bounded(ctx)).Preload("Numbers").Preload("Customer").First(&p, id).Error
	return p, notFound(err)
}

// CheckPool is ErrNotFound unless pool id exists and a may see it (the API's pool filter).
func (s *Store) CheckPool(ctx context.Context, a Actor, id uint) error {
	owner, err := cached(&s.cache, cacheKey{kind: cachePool, id: id}, func() (uint, error) {
		var owner uint
		err := s.queryRow(ctx, "SELECT customer_id FROM pools WHERE id = ?", id).Scan(&owner)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, ErrNotFound
		}
		return owner, err
	})
	if err != nil {
		return err
	}
	if !a.IsPlatformAdmin() && owner != a.CustomerID {
		return ErrNotFound
	}
	return nil
}

// takenNumbers returns which of ns already belong to a pool other than except.
func (s *Store) takenNumbers(tx *gorm.DB, ns []string, except uint) ([]string, error) {
	var taken []string
	err := tx.Model(&PoolNumber{}).Where("number IN ? AND pool_id <> ?", ns, except).Pluck("number", &taken).Error
	return taken, err
}

// CreatePool adds a pool to a customer (customer admin or platform admin).
func (s *Store) CreatePool(ctx context.Context, a Actor, customerID uint, in PoolInput) (Pool, error) {
	if !a.IsAdmin() || (!a.IsPlatformAdmin() && a.CustomerID != customerID) {
		return Pool{}, ErrForbidden
	}
	p := Pool{CustomerID: customerID}
	return p, s.savePool(ctx, a, &p, in)
}

// UpdatePool changes a pool's name, numbers and destination.
func (s *Store) UpdatePool(ctx context.Context, a Actor, id uint, in PoolInput) (Pool, error) {
	p, err := s.Pool(ctx, a, id)
	if err != nil {
		return Pool{}, err
	}
	if !a.IsAdmin() {
		return Pool{}, ErrForbidden
	}
	return p, s.savePool(ctx, a, &p, in)
}

// savePool checks in against the platform's rules and stores it: the numbers come from the
// customer's ranges (checkPoolNumbers), a new destination passes the destination rule, only
// the platform admin sets the call cap.
func (s *Store) savePool(ctx context.Context, a Actor, p *Pool, in PoolInput) error {
	v := in.validate()
	if in.MaxCalls != nil {
		switch {
		case !a.IsPlatformAdmin():
			v.add("max_calls", ErrForbidden)
		case *in.MaxCalls < 0 || *in.MaxCalls > MaxPoolCalls:
			v.add("max_calls", ErrMaxCallsInvalid)
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	// The pool as it was: the checks compare with it, also when the transaction runs again
	// after its first try changed p.
	was := *p
	was.Numbers = append([]PoolNumber(nil), p.Numbers...)
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		// Pools change rarely: one lock for all of them makes the check of taken numbers exact
		// (and saves of one pool, which delete and re-insert its numbers, never interleave).
		if err := s.d.lock(tx, "pool numbers"); err != nil {
			return err
		}
		if err := s.checkPoolNumbers(tx, a, &was, in); err != nil {
			return err
		}
		if was.ID == 0 || in.Destination != was.Destination { // a destination set before the rule stays
			ok, err := destinationAllowed(tx, p.CustomerID, in.Destination)
			if err != nil {
				return err
			}
			if !ok {
				return ValidationError{{"destination", ErrDestinationBlocked}}
			}
		}
		if field, err := loopsBack(tx, &was, in); err != nil {
			return err
		} else if field != "" {
			return ValidationError{{field, ErrDestinationLoop}}
		}
		taken, err := s.takenNumbers(tx, in.Numbers, p.ID)
		if err != nil {
			return err
		}
		if len(taken) > 0 {
			return ValidationError{{"numbers", ErrNumberTaken}}
		}
		p.Name, p.StartNumber, p.Destination = in.Name, in.StartNumber, in.Destination
		if in.MaxCalls != nil {
			p.MaxCalls = *in.MaxCalls
		}
		if err := tx.Omit("Numbers", "Customer").Save(p).Error; err != nil {
			return err
		}
		if err := tx.Where("pool_id = ?", p.ID).Delete(&PoolNumber{}).Error; err != nil {
			return err
		}
		p.Numbers = make([]PoolNumber, len(in.Numbers))
		for i, n := range in.Numbers {
			p.Numbers[i] = PoolNumber{PoolID: p.ID, Number: n}
		}
		return tx.Create(&p.Numbers).Error
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ValidationError{{"numbers", ErrNumberTaken}}
	}
	return err
}

// loopsBack names the field ("destination" or "numbers") by which the pool as in would forward
// calls to a number of the customer's own pools, or take as a number the destination of one of
// them ("" when neither): the call would come back to the
// engine through the trunk and be forwarded again, each round a new paid leg, until the call caps
// stop it. Only the customer's own pools count, so that the answer says nothing about other
// customers' numbers.
func loopsBack(tx *gorm.DB, p *Pool, in PoolInput) (string, error) {
	var others []Pool
	if err := tx.Where("customer_id = ? AND id <> ?", p.CustomerID, p.ID).Preload("Numbers").Find(&others).Error; err != nil {
		return "", err
	}
	same := func(a, b string) bool {
		for _, x := range numberForms(a) {
			for _, y := range numberForms(b) {
				if x == y {
					return true
				}
			}
		}
		return false
	}
	numbers := append([]string(nil), in.Numbers...)
	for _, o := range others {
		for _, n := range o.Numbers {
			numbers = append(numbers, n.Number)
		}
		for _, n := range in.Numbers {
			if same(o.Destination, n) {
				return "numbers", nil
			}
		}
	}
	for _, n := range numbers {
		if same(in.Destination, n) {
			return "destination", nil
		}
	}
	return "", nil
}

// PoolByNumber finds the pool a dialed number belongs to (engine routing; not actor-scoped
// because the network, not a user, asks).
func (s *Store) PoolByNumber(ctx context.Context, number string) (Pool, error) {
	var pn PoolNumber
	if err := s.db.WithContext(ctx).Where("number = ?", number).First(&pn).Error; err != nil {
		return Pool{}, notFound(err)
	}
	var p Pool
	err := s.db.WithContext(ctx).Preload("Customer").First(&p, pn.PoolID).Error
	return p, notFound(err)
}

// PoolNames maps the ids of the pools a may see to their names (a light query for lists that
// show a pool per row).
func (s *Store) PoolNames(ctx context.Context, a Actor) (map[uint]string, error) {
	var rows []struct {
		ID   uint
		Name string
	}
	err := a.customerScope(s.db.WithContext(ctx).Model(&Pool{})).Select("id, name").Order("name, id").Scan(&rows).Error
	out := make(map[uint]string, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, err
}
