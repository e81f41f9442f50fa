package web

import (
	"context"
	"time"
)

// RunRetention deletes recordings older than their pool's retention (Call Recording settings,
// retention_days) now and then every interval until ctx ends, as audited system deletions.
// cmd/callrec starts it next to the server: go srv.RunRetention(ctx, time.Hour).
func (s *Server) RunRetention(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.ApplyRetention(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("retention", "err", err, "deleted", n)
		} else if n > 0 {
			s.log.Info("retention", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ApplyRetention runs one retention pass and returns how many recordings it deleted.
func (s *Server) ApplyRetention(ctx context.Context) (int, error) {
	remove := s.tree.remover(ctx)
	return s.store.ApplyRetention(ctx, s.store.PoolRetentionDays, remove, s.store.Now())
}
