package ftpd

import (
	"testing"

	"callrec/internal/storetest"
)

// The tests run on SQLite, or on PostgreSQL with CALLREC_TEST_DB=postgres (make test runs both).
func TestMain(m *testing.M) { storetest.Main(m) }
