package models

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBrowsePlansUseIndexes reads every sort of a folder's listing in both directions, its next
// and previous pages, and the API's list over all folders (with a pool too), and asks the
// database for each statement's plan: each reads an index in the page's order, with no sort
// of the folder's rows. The folder is shaped like a real pool's: one dialed number and one destination
// in all of its recordings, so a sort column with few distinct values cannot hide behind the
// planner's estimates (PostgreSQL sorted such a folder whole before migration 5).
func TestBrowsePlansUseIndexes(t *testing.T) {
	s, a, folder := benchFolderTB(t, 20_000)
	ctx := context.Background()
	// PostgreSQL plans from statistics, which autovacuum has gathered by the time a folder is
	// this big; callrec never gathers SQLite's (it plans from the schema alone).
	if s.Backend() == "postgres" {
		if err := s.db.Exec("ANALYZE files").Error; err != nil {
			t.Fatal(err)
		}
	}
	type stmt struct {
		what, query string
		args        []any
	}
	var seen []stmt
	var what string
	s.listTrace = func(q string, args []any) { seen = append(seen, stmt{what, q, args}) }
	browse := func(label string, q BrowseQuery) BrowsePage {
		t.Helper()
		what = label
		s.lists.clear()
		p, err := s.Browse(ctx, a, q)
		if err != nil || len(p.Files) == 0 {
			t.Fatalf("%s: %d files, %v", label, len(p.Files), err)
		}
		return p
	}
	for _, sort := range BrowseSorts {
		for _, desc := range []bool{false, true} {
			q := BrowseQuery{Folder: folder, Sort: sort, Desc: desc}
			label := fmt.Sprintf("sort=%s desc=%v", sort, desc)
			first := browse(label+" first page", q)
			q.Cursor = first.Next
			second := browse(label+" next page", q)
			q.Cursor = second.Prev
			browse(label+" previous page", q)
		}
	}
	pools, err := s.Pools(ctx, a)
	if err != nil || len(pools) == 0 {
		t.Fatal(pools, err)
	}
	api := browse("all folders", BrowseQuery{})
	browse("all folders, next page", BrowseQuery{Cursor: api.Next})
	browse("all folders of a pool", BrowseQuery{PoolID: pools[0].ID})
	if len(seen) == 0 {
		t.Fatal("no listing read from the database")
	}

	// PostgreSQL: no scan that reads the folder out of order (a seq scan, a bitmap scan) and no
	// sort of more than a couple of pages' rows. An incremental sort streams the index's order
	// (it orders rows with one call time, say, by their ids) and is allowed.
	unordered := regexp.MustCompile(`Seq Scan on files|Bitmap Heap Scan on files`)
	fullSort := regexp.MustCompile(`(?m)(?:^|->)\s*Sort\s+\(cost=[0-9.]+\.\.[0-9.]+ rows=([0-9]+)`)
	tempSort := regexp.MustCompile(`USE TEMP B-TREE FOR (RIGHT PART OF )?ORDER BY`) // SQLite
	for _, st := range seen {
		var plan []string
		if s.Backend() == "postgres" {
			rows, err := s.SQL().QueryContext(ctx, "EXPLAIN "+s.d.rebind(st.query), st.args...)
			if err != nil {
				t.Fatalf("%s: %v", st.what, err)
			}
			for rows.Next() {
				var line string
				rows.Scan(&line)
				plan = append(plan, line)
			}
			rows.Close()
		} else {
			rows, err := s.SQL().QueryContext(ctx, "EXPLAIN QUERY PLAN "+st.query, st.args...)
			if err != nil {
				t.Fatalf("%s: %v", st.what, err)
			}
			for rows.Next() {
				var id, parent, notused int
				var detail string
				rows.Scan(&id, &parent, &notused, &detail)
				plan = append(plan, detail)
			}
			rows.Close()
		}
		text := strings.Join(plan, "\n")
		bad := unordered.MatchString(text) || tempSort.MatchString(text) || !strings.Contains(strings.ToLower(text), "index")
		for _, m := range fullSort.FindAllStringSubmatch(text, -1) {
			if n, _ := strconv.Atoi(m[1]); n > 200 {
				bad = true
			}
		}
		if bad {
			t.Errorf("%s: the rows are not read in the page's order from an index\n%s\n%s", st.what, st.query, text)
		}
	}
}
