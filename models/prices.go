package models

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// Module names, as the price list and bookings know them.
const (
	ModuleCallRecording = "call_recording"
	ModuleFTPAccess     = "ftp_access"
)

// Modules lists the bookable modules in display order.
var Modules = []string{ModuleCallRecording, ModuleFTPAccess}

// PriceItem is one line of the price list.
type PriceItem struct {
	ID           uint   `gorm:"primaryKey"`
	Module       string `gorm:"uniqueIndex;not null"`
	MonthlyCents int64  `gorm:"not null"`
	Currency     string `gorm:"not null;default:EUR"`
}

// Price formats the monthly price, e.g. "19.90 EUR".
func (p PriceItem) Price() string {
	return fmt.Sprintf("%d.%02d %s", p.MonthlyCents/100, p.MonthlyCents%100, p.Currency)
}

// Prices returns the price list, one item per module (zero price when not set yet).
func (s *Store) Prices(ctx context.Context) ([]PriceItem, error) {
	var ps []PriceItem
	if err := s.db.WithContext(ctx).Find(&ps).Error; err != nil {
		return nil, err
	}
	out := make([]PriceItem, len(Modules))
	for i, m := range Modules {
		out[i] = PriceItem{Module: m, Currency: "EUR"}
		for _, p := range ps {
			if p.Module == m {
				out[i] = p
			}
		}
	}
	return out, nil
}

// Price returns the price of one module.
func (s *Store) Price(ctx context.Context, module string) (PriceItem, error) {
	ps, err := s.Prices(ctx)
	if err != nil {
		return PriceItem{}, err
	}
	for _, p := range ps {
		if p.Module == module {
			return p, nil
		}
	}
	return PriceItem{}, ErrNotFound
}

// ParseCents parses "19.90" or "19,90" into cents.
func ParseCents(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", ".")
	var whole, frac int64
	parts := strings.SplitN(s, ".", 2)
	if parts[0] == "" || !digitsRE.MatchString(parts[0]) || len(parts[0]) > 9 {
		return 0, false
	}
	fmt.Sscan(parts[0], &whole)
	if len(parts) == 2 {
		f := parts[1]
		if f == "" || len(f) > 2 || !digitsRE.MatchString(f) {
			return 0, false
		}
		if len(f) == 1 {
			f += "0"
		}
		fmt.Sscan(f, &frac)
	}
	return whole*100 + frac, true
}

// SetPrice changes one module's monthly price (platform admin only).
func (s *Store) SetPrice(ctx context.Context, a Actor, module, amount, currency string) error {
	if !a.IsPlatformAdmin() {
		return ErrForbidden
	}
	var v ValidationError
	known := false
	for _, m := range Modules {
		known = known || m == module
	}
	if !known {
		return ErrNotFound
	}
	cents, ok := ParseCents(amount)
	if !ok {
		v.add("price_"+module, ErrPriceInvalid)
	}
	currency = strings.ToUpper(strings.TrimSpace(currency))
	if len(currency) != 3 || strings.Trim(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		v.add("currency_"+module, ErrCurrencyInvalid)
	}
	if err := v.err(); err != nil {
		return err
	}
	return s.transaction(ctx, func(tx *gorm.DB) error {
		// Without the lock two first prices of a module would both insert.
		if err := s.d.lock(tx, "price "+module); err != nil {
			return err
		}
		p := PriceItem{Module: module}
		if err := tx.Where("module = ?", module).Limit(1).Find(&p).Error; err != nil {
			return err
		}
		p.MonthlyCents, p.Currency = cents, currency
		return tx.Save(&p).Error
	})
}
