package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// column is one column of a table as copy-db needs it: its name and what kind of value it holds.
type column struct {
	Name string
	Kind string // "int", "real", "text", "bool", "time", "bytes"
}

// derivedTables are kept by the database itself, not copied: folder_stats by the triggers on
// files (they rebuild it as the files arrive), schema_migrations by the migrations.
var derivedTables = map[string]bool{"folder_stats": true, "schema_migrations": true}

// seededTables are filled by a migration (the default blocked destinations of migration 8): a
// new target holds such rows already, which do not make it "not empty", and the source's rows
// replace them.
var seededTables = map[string]bool{"destination_rules": true}

// CopyReport is what CopyDB moved: rows per table, in the order copied.
type CopyReport struct {
	Tables []TableCount
}

// TableCount is one table's rows, counted in the source and in the target after the copy.
type TableCount struct {
	Table string
	Rows  int64
}

// ErrTargetNotEmpty is CopyDB's refusal to copy into a database that holds data.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// CopyDB copies every table of from into to (both migrated to this build's schema; from is
// usually a SQLite file, to a new PostgreSQL database), so an installation that outgrows one
// machine keeps its history: customers, users, pools, bookings, calls, recordings' rows, audit
// trail, sessions. It refuses a target that holds any row, copies in one transaction of the
// target (all or nothing) from one read transaction of the source (a consistent snapshot, which
// holds off the source's writers meanwhile), checks every table's count, and sets the target's
// id sequences past the copied ids. progress, if not nil, hears of each table done.
func CopyDB(ctx context.Context, from, to *Store, progress func(TableCount)) (CopyReport, error) {
	var rep CopyReport
	tables, err := to.d.tables(to.db.WithContext(ctx))
	if err != nil {
		return rep, err
	}
	srcTables, err := from.d.tables(from.db.WithContext(ctx))
	if err != nil {
		return rep, err
	}
	for _, t := range srcTables {
		if !slices.Contains(tables, t) {
			return rep, fmt.Errorf("models: copy-db: the source has a table %s the target has not (is one of them from another build?)", t)
		}
	}
	src, err := from.SQL().Conn(ctx)
	if err != nil {
		return rep, err
	}
	defer src.Close()
	stx, err := src.BeginTx(ctx, nil)
	if err != nil {
		return rep, err
	}
	defer stx.Rollback()
	err = to.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, t := range tables {
			var n int64
			if err := tx.Table(t).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 && !seededTables[t] {
				return fmt.Errorf("%w (table %s: %d rows)", ErrTargetNotEmpty, t, n)
			}
		}
		for _, t := range tables {
			if !slices.Contains(srcTables, t) {
				continue // a table the source's schema lacks (cannot happen once both are migrated)
			}
			if seededTables[t] {
				if err := tx.Exec("DELETE FROM " + quoteIdent(t)).Error; err != nil {
					return err
				}
			}
			n, err := copyTable(ctx, from.d, stx, to.d, tx, t)
			if err != nil {
				return fmt.Errorf("copying %s: %w", t, err)
			}
			var want, got int64
			if err := stx.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(t)).Scan(&want); err != nil {
				return err
			}
			if err := tx.Table(t).Count(&got).Error; err != nil {
				return err
			}
			if want != got || got != n {
				return fmt.Errorf("copying %s: %d rows in the source, %d copied, %d in the target", t, want, n, got)
			}
			if err := to.d.afterCopy(tx, t); err != nil {
				return fmt.Errorf("setting %s's id sequence: %w", t, err)
			}
			c := TableCount{Table: t, Rows: got}
			rep.Tables = append(rep.Tables, c)
			if progress != nil {
				progress(c)
			}
		}
		return checkFolderStats(ctx, stx, tx)
	})
	if err != nil {
		return CopyReport{}, fmt.Errorf("models: copy-db: %w", err)
	}
	to.cache.invalidate()
	// PostgreSQL plans from statistics, and a table filled in one go has none until autovacuum
	// comes by: the first File Browser pages would be planned for an empty table (a sort of
	// the whole folder). SQLite plans from the schema (callrec never gathers its statistics).
	if to.d.name() == "postgres" {
		if err := to.db.WithContext(ctx).Exec("ANALYZE").Error; err != nil {
			return rep, fmt.Errorf("models: copy-db: copied, but gathering the statistics failed (run ANALYZE): %w", err)
		}
	}
	return rep, nil
}

// copyBatch is how many rows one INSERT carries (PostgreSQL takes at most 65,535 parameters).
const copyBatch = 500

// copyTable copies table t from the source transaction to the target and returns the rows copied.
func copyTable(ctx context.Context, sd dialect, src *sql.Tx, td dialect, dst *gorm.DB, t string) (int64, error) {
	scols, err := sd.columns(ctx, src, t)
	if err != nil {
		return 0, err
	}
	tcols, err := td.columns(ctx, dst.Statement.ConnPool, t)
	if err != nil {
		return 0, err
	}
	kinds := map[string]string{}
	for _, c := range tcols {
		kinds[c.Name] = c.Kind
	}
	var cols []column // in the source's order, those the target has too
	for _, c := range scols {
		if _, ok := kinds[c.Name]; !ok {
			return 0, fmt.Errorf("the target has no column %s", c.Name)
		}
		cols = append(cols, c)
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quoteIdent(c.Name)
	}
	rows, err := src.QueryContext(ctx, "SELECT "+strings.Join(names, ", ")+" FROM "+quoteIdent(t)+" ORDER BY 1")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	batch := make([]map[string]any, 0, copyBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := dst.Table(t).Create(&batch).Error
		batch = batch[:0]
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			v, err := convertValue(vals[i], c.Kind, kinds[c.Name])
			if err != nil {
				return n, fmt.Errorf("row %d, %s: %w", n+1, c.Name, err)
			}
			row[c.Name] = v
		}
		batch = append(batch, row)
		n++
		if len(batch) == copyBatch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// julianUnix is the Julian day of 1970-01-01 00:00 UTC (scs' SQLite store keeps session
// expiries as Julian days).
const julianUnix = 2440587.5

// convertValue turns a value read from a column of kind from into one for a column of kind to.
func convertValue(v any, from, to string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if b, ok := v.([]byte); ok && to != "bytes" {
		v = string(b)
	}
	switch to {
	case "bool":
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case float64:
			return x != 0, nil
		case string:
			return strconv.ParseBool(x)
		}
	case "int":
		switch x := v.(type) {
		case int64:
			return x, nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case float64:
			return int64(x), nil
		case string:
			return strconv.ParseInt(x, 10, 64)
		}
	case "real":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		case time.Time:
			return julianUnix + float64(x.UnixNano())/float64(24*time.Hour), nil
		case string:
			return strconv.ParseFloat(x, 64)
		}
	case "time":
		switch x := v.(type) {
		case time.Time:
			return x.UTC(), nil
		case string:
			if t, ok := parseDBTime(x); ok {
				return t, nil
			}
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.UTC(), nil
			}
			return nil, fmt.Errorf("unreadable time %q", x)
		case float64:
			if from == "real" { // a Julian day
				ns := (x - julianUnix) * float64(24*time.Hour)
				if math.IsNaN(ns) || math.Abs(ns) > math.MaxInt64 {
					return nil, fmt.Errorf("unreadable time %v", x)
				}
				return time.Unix(0, int64(ns)).UTC(), nil
			}
		case int64:
			return time.Unix(x, 0).UTC(), nil
		}
	case "text":
		switch x := v.(type) {
		case string:
			return x, nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		case bool:
			return strconv.FormatBool(x), nil
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		}
	case "bytes":
		switch x := v.(type) {
		case []byte:
			return slices.Clone(x), nil
		case string:
			return []byte(x), nil
		}
	}
	return nil, fmt.Errorf("cannot store %T (%s) in a %s column", v, from, to)
}

// checkFolderStats compares the File Browser's per-folder counts the target's triggers built
// while the files arrived with the source's.
func checkFolderStats(ctx context.Context, src *sql.Tx, dst *gorm.DB) error {
	type stat struct {
		CustomerID int64
		Folder     string
		Kind       string
		Files      int64
	}
	q := "SELECT customer_id, folder, kind, files FROM folder_stats WHERE files > 0 ORDER BY customer_id, folder, kind"
	rows, err := src.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	var want []stat
	for rows.Next() {
		var s stat
		if err := rows.Scan(&s.CustomerID, &s.Folder, &s.Kind, &s.Files); err != nil {
			rows.Close()
			return err
		}
		want = append(want, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var got []stat
	if err := dst.Raw(q).Scan(&got).Error; err != nil {
		return err
	}
	if !slices.Equal(want, got) {
		return fmt.Errorf("folder counts differ after the copy: source %d folders, target %d", len(want), len(got))
	}
	return nil
}

// orderTables sorts tables so that every table comes after the tables its foreign keys point to
// (parents maps a table to those), otherwise by name.
func orderTables(tables []string, parents map[string][]string) ([]string, error) {
	slices.Sort(tables)
	var out []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(t string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("models: foreign keys form a cycle through %s", t)
		case 2:
			return nil
		}
		state[t] = 1
		ps := slices.Clone(parents[t])
		slices.Sort(ps)
		for _, p := range ps {
			if p != t && slices.Contains(tables, p) {
				if err := visit(p); err != nil {
					return err
				}
			}
		}
		state[t] = 2
		out = append(out, t)
		return nil
	}
	for _, t := range tables {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// quoteIdent quotes a table or column name (both databases take double quotes).
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// querier is what columns reads through: the source's read transaction or the target's.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}
