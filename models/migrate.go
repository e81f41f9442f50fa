package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// Migration is one versioned change of the schema. Migrations run in Version order, each in its
// own transaction together with the row of schema_migrations that records it, while a lock
// keeps every other process's migrations waiting (a PostgreSQL advisory lock; on SQLite a lock
// file beside the database): so several processes starting at once apply each migration
// exactly once, and a migration that fails leaves nothing behind.
//
// A migration says its change as SQL both databases accept, with the column types written as
// {{id}} (an auto-incrementing primary key), {{bigint}}, {{text}} (compared bytewise on both),
// {{bool}}, {{time}} and {{bytes}}; SQLite or Postgres replace SQL for the database that needs
// its own statements; Go runs last, in the same transaction, for what SQL cannot say (with the
// dialect, for expandTypes). Released
// migrations are never edited: a change is a new migration (ARCHITECTURE.md).
type Migration struct {
	Version  int
	Name     string
	SQL      []string
	SQLite   []string
	Postgres []string
	Go       func(tx *gorm.DB, d dialect) error
	baseline bool // migration 1 (runBaseline)
}

// MigrationState is one migration as `callrec migrate --status` shows it.
type MigrationState struct {
	Version   int
	Name      string
	AppliedAt time.Time // zero: pending
	// Unknown marks a version the database has and this build does not know (a newer build
	// migrated it).
	Unknown bool
}

// schemaMigration is schema_migrations' row.
type schemaMigration struct {
	Version   int       `gorm:"primaryKey;autoIncrement:false"`
	Name      string    `gorm:"not null"`
	AppliedAt time.Time `gorm:"not null"`
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// Backend is the database's kind: "sqlite" or "postgres".
func (s *Store) Backend() string { return s.d.name() }

// Migrate applies the pending migrations and returns those it applied.
func (s *Store) Migrate(ctx context.Context) ([]MigrationState, error) {
	return s.migrateTo(ctx, migrations)
}

func (s *Store) migrateTo(ctx context.Context, list []Migration) ([]MigrationState, error) {
	if err := checkMigrations(list); err != nil {
		return nil, err
	}
	unlock, err := s.d.lockMigrations(ctx, s.SQL())
	if err != nil {
		return nil, fmt.Errorf("models: waiting for other processes' migrations: %w", err)
	}
	defer unlock()
	db := s.db.WithContext(ctx)
	if err := db.Exec(expandTypes(s.d, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version {{bigint}} PRIMARY KEY, name {{text}} NOT NULL, applied_at {{time}} NOT NULL)`)).Error; err != nil {
		return nil, fmt.Errorf("models: migrate: %w", err)
	}
	var done []int
	if err := db.Model(&schemaMigration{}).Pluck("version", &done).Error; err != nil {
		return nil, fmt.Errorf("models: migrate: %w", err)
	}
	var applied []MigrationState
	for _, m := range list {
		if slices.Contains(done, m.Version) {
			continue
		}
		at := time.Now().UTC()
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := s.runMigration(tx, m); err != nil {
				return err
			}
			return tx.Create(&schemaMigration{Version: m.Version, Name: m.Name, AppliedAt: at}).Error
		})
		if err != nil {
			return applied, fmt.Errorf("models: migration %d (%s): %w", m.Version, m.Name, err)
		}
		applied = append(applied, MigrationState{Version: m.Version, Name: m.Name, AppliedAt: at})
	}
	// Tables changed under the read cache's feet.
	s.cache.invalidate()
	return applied, nil
}

func (s *Store) runMigration(tx *gorm.DB, m Migration) error {
	if m.baseline {
		if err := s.runBaseline(tx); err != nil {
			return err
		}
	}
	stmts := m.SQL
	switch s.d.name() {
	case "sqlite":
		if m.SQLite != nil {
			stmts = m.SQLite
		}
	case "postgres":
		if m.Postgres != nil {
			stmts = m.Postgres
		}
	}
	for _, q := range stmts {
		if err := tx.Exec(expandTypes(s.d, q)).Error; err != nil {
			return err
		}
	}
	if m.Go != nil {
		return m.Go(tx, s.d)
	}
	return nil
}

// MigrationStatus lists every migration this build knows with when it was applied (zero when
// pending), and the versions the database has that this build does not know.
func (s *Store) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	db := s.db.WithContext(ctx)
	var rows []schemaMigration
	ok, err := s.d.hasTable(db, "schema_migrations")
	if err != nil {
		return nil, err
	}
	if ok {
		if err := db.Order("version").Find(&rows).Error; err != nil {
			return nil, err
		}
	}
	byVersion := map[int]schemaMigration{}
	for _, r := range rows {
		byVersion[r.Version] = r
	}
	var out []MigrationState
	for _, m := range migrations {
		st := MigrationState{Version: m.Version, Name: m.Name}
		if r, ok := byVersion[m.Version]; ok {
			st.AppliedAt = r.AppliedAt
			delete(byVersion, m.Version)
		}
		out = append(out, st)
	}
	for _, r := range rows {
		if _, ok := byVersion[r.Version]; ok {
			out = append(out, MigrationState{Version: r.Version, Name: r.Name, AppliedAt: r.AppliedAt, Unknown: true})
		}
	}
	return out, nil
}

// checkMigrations refuses a list whose versions are not strictly increasing from 1 (two
// engineers' migrations with one number would otherwise both claim it).
func checkMigrations(list []Migration) error {
	for i, m := range list {
		if m.Version != i+1 {
			return fmt.Errorf("models: migration %q has version %d, want %d (versions count up from 1 without gaps)", m.Name, m.Version, i+1)
		}
		if m.Name == "" {
			return errors.New("models: migration without a name")
		}
	}
	return nil
}
