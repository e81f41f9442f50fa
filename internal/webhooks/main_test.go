package webhooks_test

import (
	"testing"

	"callrec/internal/storetest"
	"callrec/models"
)

// The tests run on SQLite, or on PostgreSQL with CALLREC_TEST_DB=postgres (make test runs both).
func TestMain(m *testing.M) {
	storetest.UseTemplate(migrated)
	storetest.Main(m)
}

// migrated makes dsn's database what models.Open leaves (PostgreSQL tests copy it).
func migrated(dsn string) error {
	s, err := models.Open(dsn)
	if err != nil {
		return err
	}
	return s.Close()
}
