package web

import (
	"os"
	"testing"

	"callrec/internal/s3test"
	"callrec/internal/storetest"
	"callrec/models"
)

// The tests run on SQLite, or on PostgreSQL with CALLREC_TEST_DB=postgres (make test runs both);
// some against a real S3 server too.
func TestMain(m *testing.M) {
	storetest.UseTemplate(migrated)
	stopDB, stopS3 := storetest.Enable(), s3test.Enable()
	code := m.Run()
	stopS3()
	stopDB()
	os.Exit(code)
}

// migrated makes dsn's database what models.Open leaves (PostgreSQL tests copy it).
func migrated(dsn string) error {
	s, err := models.Open(dsn)
	if err != nil {
		return err
	}
	return s.Close()
}
