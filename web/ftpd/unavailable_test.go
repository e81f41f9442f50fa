package ftpd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"callrec/internal/ratelimit"
	"callrec/models"
)

// downStore is a Store whose database does not answer logins (the other methods are not
// reached on that path).
type downStore struct{ Store }

func (downStore) AuthenticateFTP(context.Context, string, string) (models.FTPAccount, error) {
	return models.FTPAccount{}, errors.New("failed to connect: connection refused")
}

// TestLoginWhileDatabaseAwayCountsNoFailure: logins refused because the store cannot answer are
// not failed attempts, so a client retrying through a database restart is not locked out.
func TestLoginWhileDatabaseAwayCountsNoFailure(t *testing.T) {
	fails := ratelimit.New(2, time.Hour)
	g, err := newGate("ftps", Config{DataDir: t.TempDir(), Failures: fails, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, downStore{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, _, err := g.login(context.Background(), "192.0.2.1", "ftp-337826", "pw"); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("login with the store away: %v", err)
		}
	}
	for _, k := range []string{"ip:192.0.2.1", "user:ftp-337826"} {
		if b, _ := fails.Blocked(k); b {
			t.Fatalf("%s blocked after logins the store could not answer", k)
		}
	}
}
