package enginestore

import (
	"os"
	"testing"

	"callrec/internal/s3test"
	"callrec/internal/storetest"
)

// The tests run on SQLite, or on PostgreSQL with CALLREC_TEST_DB=postgres (make test runs both);
// some against a real S3 server too.
func TestMain(m *testing.M) {
	stopDB, stopS3 := storetest.Enable(), s3test.Enable()
	code := m.Run()
	stopS3()
	stopDB()
	os.Exit(code)
}
