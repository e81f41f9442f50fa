package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"callrec/models"
)

// dbFlags adds the --data and --db flags every database command shares and returns the DSN they
// choose: --db (a SQLite file or a postgres:// URL), else DATA/callrec.db.
func dbFlags(fs *flag.FlagSet, getenv func(string) string) func() string {
	data := fs.String("data", envOr(getenv, "CALLREC_DATA", "./data"), "data folder (CALLREC_DATA)")
	db := fs.String("db", getenv("CALLREC_DB"), "database: a SQLite file or postgres://user:pass@host:port/db?sslmode=...; default DATA/callrec.db (CALLREC_DB)")
	return func() string {
		if *db != "" {
			return *db
		}
		return filepath.Join(*data, "callrec.db")
	}
}

// migrate applies the pending migrations, or with --status lists them all.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	status := fs.Bool("status", false, "list the migrations and when each was applied; change nothing")
	dsn := dbFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	store, err := models.Connect(dsn())
	if err != nil {
		return err
	}
	defer store.Close()
	if !*status {
		applied, err := store.Migrate(ctx)
		for _, m := range applied {
			fmt.Fprintf(stdout, "applied %d: %s\n", m.Version, m.Name)
		}
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintln(stdout, "nothing to migrate")
		}
	}
	st, err := store.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database: %s %s\n", store.Backend(), redact(dsn()))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "version\tapplied\tname")
	pending := 0
	for _, m := range st {
		when := m.AppliedAt.UTC().Format(time.DateTime + " UTC")
		switch {
		case m.Unknown:
			when += " (unknown to this build: a newer one applied it)"
		case m.AppliedAt.IsZero():
			when = "pending"
			pending++
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, when, m.Name)
	}
	tw.Flush()
	if *status && pending > 0 {
		fmt.Fprintf(stdout, "%d pending: run callrec migrate (serve applies them at start)\n", pending)
	}
	return nil
}

// copyDB copies a SQLite installation into an empty PostgreSQL database.
func copyDB(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("copy-db", flag.ContinueOnError)
	fs.SetOutput(stdout)
	from := fs.String("from", "", "the SQLite database file to copy (it is migrated to this build's schema first)")
	to := fs.String("to", "", "the empty PostgreSQL database to fill: postgres://user:pass@host:port/db?sslmode=...")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *from == "" || *to == "":
		return errors.New("copy-db needs --from SQLITE_PATH and --to postgres://...")
	case isPostgresURL(*from):
		return errors.New("--from is the SQLite database file to copy")
	case !isPostgresURL(*to):
		return errors.New("--to is a postgres:// URL")
	}
	src, err := models.Open(*from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := models.Open(*to)
	if err != nil {
		return err
	}
	defer dst.Close()
	start := time.Now()
	rep, err := models.CopyDB(ctx, src, dst, func(c models.TableCount) {
		fmt.Fprintf(stdout, "copied %-24s %9d rows\n", c.Table, c.Rows)
	})
	if err != nil {
		return err
	}
	var rows int64
	for _, c := range rep.Tables {
		rows += c.Rows
	}
	fmt.Fprintf(stdout, "copied %d tables, %d rows in %s; counts checked. Start callrec with --db %s (the recordings stay in the data folder)\n",
		len(rep.Tables), rows, time.Since(start).Round(time.Millisecond), redact(*to))
	return nil
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// redact hides a database URL's password.
func redact(dsn string) string {
	if !isPostgresURL(dsn) {
		return dsn
	}
	return models.RedactURL(dsn)
}
