package models

import (
	"context"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// DestinationRule is one prefix of the platform's rule for where pools may forward calls: with
// CustomerID 0 a blocked prefix (premium-rate and special services by default, the platform
// admin edits the list), otherwise a prefix that customer may use although it is blocked.
type DestinationRule struct {
	ID         uint   `gorm:"primaryKey"`
	CustomerID uint   `gorm:"uniqueIndex:idx_destination_rule;not null"`
	Prefix     string `gorm:"uniqueIndex:idx_destination_rule;not null"`
	Note       string `gorm:"not null"`
}

// HomeCountryCode is the country the trunk dials national numbers (one leading 0) in: a
// destination or a rule written "0900…" is read as "+49 900…" as well.
const HomeCountryCode = "49"

// DefaultBlockedDestinations is the blocked list a new installation starts with (migration 8
// writes it, the platform admin edits it from then on; as part of a released migration it is
// never changed, a new default is a new migration): Germany's
// premium-rate and special service numbers (a national prefix covers its +49, 0049 and 49 forms
// too: ruleMatches), emergency and service short codes, and the international premium and
// satellite networks.
var DefaultBlockedDestinations = []DestinationRule{
	{Prefix: "0900", Note: "premium rate (also +49 900, 0049 900, 49 900)"},
	{Prefix: "0137", Note: "mass calling, televoting"},
	{Prefix: "0138", Note: "mass calling"},
	{Prefix: "0180", Note: "shared cost services"},
	{Prefix: "0181", Note: "international virtual private networks"},
	{Prefix: "019", Note: "0190x premium rate (historic) and 019x online services"},
	{Prefix: "012", Note: "innovative services"},
	// A carrier selection prefix (010xx, 0100xx) dialled before any number, a premium one
	// included, would carry it past every other prefix of the list.
	{Prefix: "010", Note: "carrier selection (call by call), would hide the number after it"},
	{Prefix: "118", Note: "directory enquiries 118xx"},
	{Prefix: "49118", Note: "directory enquiries, international form"},
	{Prefix: "110", Note: "police"}, {Prefix: "112", Note: "emergency"},
	{Prefix: "115", Note: "public administration service"}, {Prefix: "116", Note: "harmonised services of social value"},
	{Prefix: "979", Note: "International Premium Rate Service"}, {Prefix: "808", Note: "International Shared Cost Service"},
	{Prefix: "870", Note: "Inmarsat"}, {Prefix: "881", Note: "global mobile satellite systems"},
	{Prefix: "882", Note: "international networks"}, {Prefix: "883", Note: "international networks"},
}

// numberForms are the ways a number written as digits may be dialled: as written; without the
// international prefix 00; a national number (one leading 0) with the home country code; and a
// home number with its national 0 kept after the country code ("49 0900…", as "+49 (0)900" is
// written), which carriers commonly dial without that 0.
func numberForms(n string) []string {
	out := []string{n}
	switch {
	case strings.HasPrefix(n, "00"):
		out = append(out, n[2:])
	case strings.HasPrefix(n, "0"):
		out = append(out, HomeCountryCode+n[1:])
	}
	for _, f := range out {
		if rest, ok := strings.CutPrefix(f, HomeCountryCode+"0"); ok {
			return append(out, HomeCountryCode+rest)
		}
	}
	return out
}

// ruleMatches reports whether prefix (in any of its forms) begins dest (in any of its forms).
func ruleMatches(prefix, dest string) bool {
	for _, d := range numberForms(dest) {
		for _, p := range numberForms(prefix) {
			if strings.HasPrefix(d, p) {
				return true
			}
		}
	}
	return false
}

// DestinationAllowed reports whether a pool of customerID may forward to dest: no blocked
// prefix matches it, or one of the customer's allowed prefixes does.
func (s *Store) DestinationAllowed(ctx context.Context, customerID uint, dest string) (bool, error) {
	return destinationAllowed(s.db.WithContext(ctx), customerID, dest)
}

func destinationAllowed(db *gorm.DB, customerID uint, dest string) (bool, error) {
	var rules []DestinationRule
	if err := db.Where("customer_id IN ?", []uint{0, customerID}).Find(&rules).Error; err != nil {
		return false, err
	}
	return allowedBy(rules, customerID, dest), nil
}

// allowedBy applies rules (the blocked list and any customers' allowed lists) to a destination
// of customerID's.
func allowedBy(rules []DestinationRule, customerID uint, dest string) bool {
	blocked := false
	for _, r := range rules {
		if r.CustomerID == 0 && ruleMatches(r.Prefix, dest) {
			blocked = true
		}
	}
	if !blocked {
		return true
	}
	for _, r := range rules {
		if r.CustomerID == customerID && ruleMatches(r.Prefix, dest) {
			return true
		}
	}
	return false
}

// DestinationRules lists the blocked prefixes (customerID 0) or a customer's allowed ones.
// The platform admin reads every list; a customer admin their own allowed list (so that they
// know what they may use) and the blocked list.
func (s *Store) DestinationRules(ctx context.Context, a Actor, customerID uint) ([]DestinationRule, error) {
	if !a.IsAdmin() {
		return nil, ErrForbidden
	}
	if !a.IsPlatformAdmin() && customerID != 0 && customerID != a.CustomerID {
		return nil, ErrNotFound
	}
	var rs []DestinationRule
	err := s.db.WithContext(ctx).Where("customer_id = ?", customerID).Order("prefix").Find(&rs).Error
	return rs, err
}

// ParseRuleList reads a rule list as the page's text area holds it: one prefix per line,
// optionally followed by a note after "#" ("0900 # premium rate"). SetDestinationRules checks
// the prefixes.
func ParseRuleList(text string) []DestinationRule {
	var out []DestinationRule
	for _, line := range strings.Split(text, "\n") {
		prefix, note, _ := strings.Cut(line, "#")
		prefix = strings.TrimSpace(prefix)
		if prefix == "" {
			continue
		}
		out = append(out, DestinationRule{Prefix: prefix, Note: strings.TrimSpace(note)})
	}
	return out
}

// Audit kinds of the destination rule.
const (
	AuditBlockedChanged = "destinations.blocked_changed"
	AuditAllowedChanged = "destinations.allowed_changed"
)

// maxRules bounds one list.
const maxRules = 1000

// SetDestinationRules replaces a list (platform admin only): customerID 0 is the blocked list,
// another the customer's allowed list. Prefixes are digits (1 to 15; "+", spaces, dashes and a
// leading 00 are dropped, a national 0 is kept). Audited with the old and new list.
func (s *Store) SetDestinationRules(ctx context.Context, a Actor, ip string, customerID uint, rules []DestinationRule) ([]DestinationRule, error) {
	if !a.IsPlatformAdmin() {
		return nil, ErrNotFound
	}
	if customerID != 0 {
		if _, err := s.Customer(ctx, a, customerID); err != nil {
			return nil, err
		}
	}
	if len(rules) > maxRules {
		return nil, ValidationError{{"rules", ErrPrefixInvalid}}
	}
	seen := map[string]bool{}
	var clean []DestinationRule
	for _, r := range rules {
		p := rulePrefix(r.Prefix)
		if p == "" {
			return nil, ErrPrefixInvalid.With("not a prefix: " + r.Prefix)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		clean = append(clean, DestinationRule{CustomerID: customerID, Prefix: p, Note: strings.TrimSpace(r.Note)})
	}
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		// Two replacements of one list at once: one after the other, each audited with what it
		// replaced.
		if err := s.d.lock(tx, "destination rules "+strconv.FormatUint(uint64(customerID), 10)); err != nil {
			return err
		}
		for i := range clean {
			clean[i].ID = 0 // the transaction may run again
		}
		var old []DestinationRule
		if err := tx.Where("customer_id = ?", customerID).Order("prefix").Find(&old).Error; err != nil {
			return err
		}
		if err := tx.Where("customer_id = ?", customerID).Delete(&DestinationRule{}).Error; err != nil {
			return err
		}
		if len(clean) > 0 {
			if err := tx.Create(&clean).Error; err != nil {
				return err
			}
		}
		// The platform's own event (customer 0), like number ranges'.
		kind, object := AuditBlockedChanged, "blocked destinations"
		if customerID != 0 {
			kind, object = AuditAllowedChanged, "customer "+strconv.FormatUint(uint64(customerID), 10)+" allowed destinations"
		}
		return s.auditIn(tx, AuditEntry{Actor: a, IP: ip, Kind: kind, Object: object, Old: prefixes(old), New: prefixes(clean)})
	})
	if err != nil {
		return nil, err
	}
	return s.DestinationRules(ctx, a, customerID)
}

// rulePrefix is a typed prefix's digits, or "" when it is none.
func rulePrefix(typed string) string {
	s := strings.TrimSpace(typed)
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r == '+' || r == ' ' || r == '-') {
			return ""
		}
	}
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	p := b.String()
	if strings.HasPrefix(p, "00") || strings.HasPrefix(s, "+") {
		p = strings.TrimPrefix(p, "00")
	}
	if p == "" || len(p) > 15 {
		return ""
	}
	return p
}

func prefixes(rs []DestinationRule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Prefix
	}
	return out
}

// seedBlockedDestinations writes DefaultBlockedDestinations: part of migration 8, which
// introduced the rule.
func seedBlockedDestinations(tx *gorm.DB) error {
	for _, r := range DefaultBlockedDestinations {
		// SQL, not the model: a migration writes the table as it was made.
		if err := tx.Exec(`INSERT INTO destination_rules (customer_id, prefix, note) VALUES (0, ?, ?)`, r.Prefix, r.Note).Error; err != nil {
			return err
		}
	}
	return nil
}

// PoolsWithBlockedDestinations lists the pools whose destination the rule blocks now (set
// before the prefix was blocked; they keep forwarding until their destination is changed), so
// that the platform admin sees them. Platform admin only.
func (s *Store) PoolsWithBlockedDestinations(ctx context.Context, a Actor) ([]Pool, error) {
	if !a.IsPlatformAdmin() {
		return nil, ErrNotFound
	}
	var rules []DestinationRule
	if err := s.db.WithContext(ctx).Find(&rules).Error; err != nil {
		return nil, err
	}
	var pools []Pool
	if err := s.db.WithContext(ctx).Preload("Customer").Order("customer_id, name, id").Find(&pools).Error; err != nil {
		return nil, err
	}
	var out []Pool
	for _, p := range pools {
		if !allowedBy(rules, p.CustomerID, p.Destination) {
			out = append(out, p)
		}
	}
	return out, nil
}
