package models

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// NumberRange is a block of numbers the platform admin assigned to a customer: only numbers of
// its own ranges go into a customer's pools, so one customer can neither take numbers next to
// another's nor route someone else's. A range is a prefix (every number beginning with First;
// Last is empty) or a span (every number of First's length from First to Last). Numbers are in
// international form without "+" (E.164: country code first, at most 15 digits), as pools store
// them. Ranges never overlap, whoever they belong to; every number of a pool lies in one of its
// customer's ranges (pool saves, range deletion and the migration keep it so).
type NumberRange struct {
	ID          uint   `gorm:"primaryKey"`
	CustomerID  uint   `gorm:"index;not null"`
	FirstNumber string `gorm:"not null"`
	LastNumber  string `gorm:"not null"` // "" for a prefix
	CreatedAt   time.Time
}

// IsPrefix reports whether r is a prefix range.
func (r NumberRange) IsPrefix() bool { return r.LastNumber == "" }

// Contains reports whether number lies in r.
func (r NumberRange) Contains(number string) bool {
	if r.IsPrefix() {
		return strings.HasPrefix(number, r.FirstNumber)
	}
	return len(number) == len(r.FirstNumber) && number >= r.FirstNumber && number <= r.LastNumber
}

// Overlaps reports whether some number lies in both r and o.
func (r NumberRange) Overlaps(o NumberRange) bool {
	switch {
	case r.IsPrefix() && o.IsPrefix():
		return strings.HasPrefix(r.FirstNumber, o.FirstNumber) || strings.HasPrefix(o.FirstNumber, r.FirstNumber)
	case !r.IsPrefix() && !o.IsPrefix():
		return len(r.FirstNumber) == len(o.FirstNumber) && r.FirstNumber <= o.LastNumber && o.FirstNumber <= r.LastNumber
	case r.IsPrefix():
		return o.Overlaps(r)
	}
	// r a span of length n, o a prefix p: the numbers of length n beginning with p are
	// p0...0 to p9...9.
	p, n := o.FirstNumber, len(r.FirstNumber)
	if len(p) > n {
		return false
	}
	lo, hi := p+strings.Repeat("0", n-len(p)), p+strings.Repeat("9", n-len(p))
	return lo <= r.LastNumber && r.FirstNumber <= hi
}

// String is the range as people write it: "4971121843…" or "4971121843100–4971121843199".
func (r NumberRange) String() string {
	if r.IsPrefix() {
		return r.FirstNumber + "…"
	}
	if r.FirstNumber == r.LastNumber {
		return r.FirstNumber
	}
	return r.FirstNumber + "–" + r.LastNumber
}

// sqlMatch is the condition on column that selects the numbers of r (no LIKE wildcards can
// come in: the numbers are digits).
func (r NumberRange) sqlMatch(column string) (string, []any) {
	if r.IsPrefix() {
		return column + " LIKE ?", []any{r.FirstNumber + "%"}
	}
	return "length(" + column + ") = ? AND " + column + " BETWEEN ? AND ?", []any{len(r.FirstNumber), r.FirstNumber, r.LastNumber}
}

// E164 reads a number in international form as people type it ("+49 711 218431-40",
// "0049 711 …", "49711…") and returns its digits, or "" when it is not one: it must have a
// country code (a national "0711…" is refused, as which country it belongs to is a guess) and
// at most 15 digits.
func E164(typed string) string {
	s := strings.ReplaceAll(strings.TrimSpace(typed), "(0)", "") // "+49 (0)711 …": the national 0 is not dialled
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r == '+' || r == ' ' || r == '-' || r == '/' || r == '(' || r == ')' || r == '.') {
			return ""
		}
	}
	plus := strings.HasPrefix(s, "+")
	n := NormalizeNumber(s) // digits, a leading 00 dropped
	if n == "" || len(n) > 15 || n[0] == '0' || strings.Count(s, "+") > 1 || (!plus && strings.Contains(s, "+")) {
		return ""
	}
	return n
}

// RangeInput is a range as the form and the API give it: From alone is a prefix, From and To a
// span.
type RangeInput struct {
	From, To string
	IP       string
}

// MinPrefixDigits is the shortest prefix a range may have: shorter ones would hand out whole
// countries by a slip of the keyboard.
const MinPrefixDigits = 3

func (in RangeInput) parse() (NumberRange, error) {
	first := E164(in.From)
	if strings.TrimSpace(in.To) == "" {
		if len(first) < MinPrefixDigits {
			return NumberRange{}, ValidationError{{"from", ErrRangeInvalid}}
		}
		return NumberRange{FirstNumber: first}, nil
	}
	last := E164(in.To)
	switch {
	case first == "":
		return NumberRange{}, ValidationError{{"from", ErrRangeInvalid}}
	case last == "" || len(last) != len(first) || last < first:
		return NumberRange{}, ValidationError{{"to", ErrRangeInvalid}}
	}
	return NumberRange{FirstNumber: first, LastNumber: last}, nil
}

// Audit kinds of number ranges.
const (
	AuditRangeAssigned = "number_range.assigned"
	AuditRangeRemoved  = "number_range.removed"
)

// NumberRanges lists a customer's ranges: the platform admin names any customer (0: all), a
// customer admin sees their own. Anyone else: ErrForbidden.
func (s *Store) NumberRanges(ctx context.Context, a Actor, customerID uint) ([]NumberRange, error) {
	if !a.IsAdmin() {
		return nil, ErrForbidden
	}
	if !a.IsPlatformAdmin() {
		if customerID != 0 && customerID != a.CustomerID {
			return nil, ErrNotFound
		}
		customerID = a.CustomerID
	}
	q := s.db.WithContext(ctx).Order("first_number, id")
	if customerID != 0 {
		q = q.Where("customer_id = ?", customerID)
	}
	var rs []NumberRange
	return rs, q.Find(&rs).Error
}

// AssignRange gives a customer a range of numbers (platform admin only). It must not overlap
// any range, nor hold numbers another customer's pools use.
func (s *Store) AssignRange(ctx context.Context, a Actor, customerID uint, in RangeInput) (NumberRange, error) {
	if !a.IsPlatformAdmin() {
		return NumberRange{}, ErrNotFound
	}
	r, err := in.parse()
	if err != nil {
		return NumberRange{}, err
	}
	if _, err := s.Customer(ctx, a, customerID); err != nil {
		return NumberRange{}, err
	}
	r.CustomerID = customerID
	err = s.transaction(ctx, func(tx *gorm.DB) error {
		// The lock of pool saves: a range and a pool number must not pass each other's check.
		if err := s.d.lock(tx, "pool numbers"); err != nil {
			return err
		}
		r.ID = 0 // the transaction may run again
		if err := s.assignIn(tx, &r); err != nil {
			return err
		}
		return s.auditIn(tx, AuditEntry{Actor: a, IP: in.IP, Kind: AuditRangeAssigned, Object: rangeObject(r), New: r.String()})
	})
	return r, err
}

// assignIn checks and stores r inside tx (the transaction of a pool save, or its own).
func (s *Store) assignIn(tx *gorm.DB, r *NumberRange) error {
	var all []NumberRange
	if err := tx.Find(&all).Error; err != nil {
		return err
	}
	for _, o := range all {
		if r.Overlaps(o) {
			return ValidationError{{"from", ErrRangeOverlaps}}
		}
	}
	cond, args := r.sqlMatch("pool_numbers.number")
	var n int64
	err := tx.Model(&PoolNumber{}).Joins("JOIN pools ON pools.id = pool_numbers.pool_id").
		Where("pools.customer_id <> ?", r.CustomerID).Where(cond, args...).Count(&n).Error
	if err != nil {
		return err
	}
	if n > 0 {
		return ValidationError{{"from", ErrRangeTaken}}
	}
	return tx.Create(r).Error
}

// rangeObject names a range in the audit trail. Ranges are the platform's business: their
// events are the platform's own (customer 0, the platform admin's log), naming the customer.
func rangeObject(r NumberRange) string {
	return "customer " + strconv.FormatUint(uint64(r.CustomerID), 10) + " number range " + strconv.FormatUint(uint64(r.ID), 10)
}

// RemoveRange takes a range back from its customer (platform admin only); ErrRangeInUse while
// a pool of the customer uses one of its numbers that no other of its ranges holds.
func (s *Store) RemoveRange(ctx context.Context, a Actor, ip string, id uint) (NumberRange, error) {
	if !a.IsPlatformAdmin() {
		return NumberRange{}, ErrNotFound
	}
	var r NumberRange
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		if err := s.d.lock(tx, "pool numbers"); err != nil {
			return err
		}
		if err := tx.First(&r, id).Error; err != nil {
			return notFound(err)
		}
		cond, args := r.sqlMatch("pool_numbers.number")
		var used []string
		if err := tx.Model(&PoolNumber{}).Joins("JOIN pools ON pools.id = pool_numbers.pool_id").
			Where("pools.customer_id = ?", r.CustomerID).Where(cond, args...).Pluck("pool_numbers.number", &used).Error; err != nil {
			return err
		}
		if len(used) > 0 {
			var others []NumberRange
			if err := tx.Where("customer_id = ? AND id <> ?", r.CustomerID, r.ID).Find(&others).Error; err != nil {
				return err
			}
			for _, n := range used {
				if !inRanges(others, n) {
					return ErrRangeInUse.With("number " + n + " is in a pool")
				}
			}
		}
		if err := tx.Delete(&NumberRange{}, r.ID).Error; err != nil {
			return err
		}
		return s.auditIn(tx, AuditEntry{Actor: a, IP: ip, Kind: AuditRangeRemoved, Object: rangeObject(r), Old: r.String()})
	})
	return r, err
}

func inRanges(rs []NumberRange, n string) bool {
	for _, r := range rs {
		if r.Contains(n) {
			return true
		}
	}
	return false
}

// checkPoolNumbers applies the ranges to a pool save inside tx: the numbers added to the pool
// (and a new start number) must lie in the customer's ranges. A customer admin gets
// ErrNumberNotAssigned for any other number, another customer's included, so that the answer
// tells nothing about who holds it. The platform admin may use a number outside every range:
// the customer is then given it (ranges of exactly the new numbers), as putting a
// number into a customer's pool assigns it; a number in another customer's range is
// ErrNumberOtherCustomer.
func (s *Store) checkPoolNumbers(tx *gorm.DB, a Actor, p *Pool, in PoolInput) error {
	old := map[string]bool{}
	for _, n := range p.Numbers {
		old[n.Number] = true
	}
	var added []string
	for _, n := range in.Numbers {
		if !old[n] {
			added = append(added, n)
		}
	}
	startChanged := p.ID == 0 || in.StartNumber != p.StartNumber
	var all []NumberRange
	if err := tx.Find(&all).Error; err != nil {
		return err
	}
	var own, foreign []NumberRange
	for _, r := range all {
		if r.CustomerID == p.CustomerID {
			own = append(own, r)
		} else {
			foreign = append(foreign, r)
		}
	}
	var v ValidationError
	var unassigned []string
	check := func(field, n string) bool {
		switch {
		case inRanges(own, n):
		case !a.IsPlatformAdmin():
			v.add(field, ErrNumberNotAssigned)
			return false
		case inRanges(foreign, n):
			v.add(field, ErrNumberOtherCustomer)
			return false
		default:
			unassigned = append(unassigned, n)
		}
		return true
	}
	if startChanged && !inRanges(own, in.StartNumber) {
		switch { // the platform admin's start number is assigned with the numbers, if it is one
		case !a.IsPlatformAdmin():
			v.add("start_number", ErrNumberNotAssigned)
		case inRanges(foreign, in.StartNumber):
			v.add("start_number", ErrNumberOtherCustomer)
		}
	}
	for _, n := range added {
		if !check("numbers", n) {
			break
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	// Numbers of other customers' pools that lie in no range (possible only in data older
	// than the ranges): a customer admin is told the same as for any number not theirs.
	if len(added) > 0 && !a.IsPlatformAdmin() {
		var n int64
		if err := tx.Model(&PoolNumber{}).Joins("JOIN pools ON pools.id = pool_numbers.pool_id").
			Where("pool_numbers.number IN ? AND pools.customer_id <> ?", added, p.CustomerID).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return ValidationError{{"numbers", ErrNumberNotAssigned}}
		}
	}
	// Audited like a range the platform admin assigns on the numbers page: whichever way a
	// customer got numbers, the trail shows it.
	for _, r := range compressNumbers(unassigned) {
		r.CustomerID = p.CustomerID
		if err := s.assignIn(tx, &r); err != nil {
			var ve ValidationError
			if errors.As(err, &ve) { // another customer's pool holds it
				return ValidationError{{"numbers", ErrNumberTaken}}
			}
			return err
		}
		if err := s.auditIn(tx, AuditEntry{Actor: a, Kind: AuditRangeAssigned, Object: rangeObject(r), New: r.String() + " (with pool " + in.Name + ")"}); err != nil {
			return err
		}
	}
	return nil
}

// compressNumbers turns numbers into as few spans as hold exactly them: runs of consecutive
// numbers of one length become one span, every other number a span of itself.
func compressNumbers(ns []string) []NumberRange {
	sorted := append([]string(nil), ns...)
	sort.Slice(sorted, func(i, j int) bool {
		if len(sorted[i]) != len(sorted[j]) {
			return len(sorted[i]) < len(sorted[j])
		}
		return sorted[i] < sorted[j]
	})
	var out []NumberRange
	for _, n := range sorted {
		if k := len(out) - 1; k >= 0 && out[k].LastNumber == n {
			continue // a duplicate
		} else if k >= 0 && nextNumber(out[k].LastNumber) == n {
			out[k].LastNumber = n
			continue
		}
		out = append(out, NumberRange{FirstNumber: n, LastNumber: n})
	}
	return out
}

// nextNumber is the digit string one above n, of the same length ("" after 9...9).
func nextNumber(n string) string {
	b := []byte(n)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return ""
}

// assignNumbersInUse is part of migration 8, which introduced ranges: every customer is given the
// numbers its pools use, start numbers included, as compressNumbers' spans, so that existing
// pools keep working and stay editable. Pool numbers are unique across the platform; a start
// number that another customer's pool uses (as a number, or as its start number too) stays
// unassigned.
func assignNumbersInUse(tx *gorm.DB) error {
	type row struct {
		CustomerID uint
		Number     string
	}
	var members, starts []row
	if err := tx.Raw(`SELECT pools.customer_id AS customer_id, pool_numbers.number AS number
		FROM pool_numbers JOIN pools ON pools.id = pool_numbers.pool_id`).Scan(&members).Error; err != nil {
		return err
	}
	if err := tx.Raw(`SELECT customer_id, start_number AS number FROM pools`).Scan(&starts).Error; err != nil {
		return err
	}
	owner := map[string]uint{}
	member := map[string]bool{}
	for _, r := range members {
		owner[r.Number], member[r.Number] = r.CustomerID, true
	}
	contested := map[string]bool{}
	for _, r := range starts {
		if prev, ok := owner[r.Number]; !ok {
			owner[r.Number] = r.CustomerID
		} else if prev != r.CustomerID && !member[r.Number] {
			contested[r.Number] = true
		}
	}
	byCustomer := map[uint][]string{}
	for n, c := range owner {
		if !contested[n] {
			byCustomer[c] = append(byCustomer[c], n)
		}
	}
	ids := make([]uint, 0, len(byCustomer))
	for id := range byCustomer {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	now := time.Now().UTC()
	for _, id := range ids {
		for _, r := range compressNumbers(byCustomer[id]) {
			// SQL, not the model: a migration writes the table as it was made.
			if err := tx.Exec(`INSERT INTO number_ranges (customer_id, first_number, last_number, created_at) VALUES (?, ?, ?, ?)`,
				id, r.FirstNumber, r.LastNumber, now).Error; err != nil {
				return err
			}
		}
	}
	return nil
}
