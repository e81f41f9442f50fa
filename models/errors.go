package models

import (
	"errors"
	"strings"

	"gorm.io/gorm"
)

// ErrNotFound is returned for missing rows and for rows of another customer alike.
var ErrNotFound = errors.New("not found")

// ErrForbidden means the actor may see the object but not change it.
var ErrForbidden = errors.New("forbidden")

// FieldError is one invalid form field; Key is an i18n message ID, translated at the edge.
type FieldError struct {
	Field string
	Key   string
}

// ValidationError lists the invalid fields of one input.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = f.Field + ": " + f.Key
	}
	return "invalid input: " + strings.Join(parts, ", ")
}

// Field returns the message key for field, or "".
func (v ValidationError) Field(name string) string {
	for _, f := range v {
		if f.Field == name {
			return f.Key
		}
	}
	return ""
}

func (v *ValidationError) add(field, key string) { *v = append(*v, FieldError{field, key}) }

func (v ValidationError) err() error {
	if len(v) == 0 {
		return nil
	}
	return v
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// Errors of authentication; the web layer maps them to one generic message.
var (
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrWrongPassword      = errors.New("wrong password")
)

// ErrFileInUse means a file is still chosen for an announcement slot and cannot be deleted.
var ErrFileInUse = errors.New("file is used by an announcement")

// ErrNotBooked means the module must be booked before its settings can change.
var ErrNotBooked = errors.New("module not booked")

// ErrBadQuery is a query parameter out of range (an unknown sort key, a broken cursor).
var ErrBadQuery = errors.New("bad query")
