package chstore_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
)

// oddNames is n rows over names that need quoting in SQL (quotes,
// backslashes, a question mark, control bytes, invalid UTF-8, an empty
// name), a second apart from start, in the table's order.
func oddNames(start time.Time, n int, nodes []string) []testenv.Obs {
	props := []string{"", "it's", `a\b`, "?", "x\x00y", "\xff\xfe", "line\nbreak", "ünï"}
	var rows []testenv.Obs
	for i := range n {
		rows = append(rows, testenv.Obs{Node: nodes[i%len(nodes)], TS: start.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05"),
			Sensor: "s'" + fmt.Sprint(i%3), Feature: "f?" + fmt.Sprint(i%2), Property: props[i%len(props)], Value: float64(i) / 4})
	}
	return rows
}

// TestStoredSliceCodes: once a read of a network has spelt its names out,
// the next reads of it have ClickHouse send them as codes, and give
// exactly the rows of the sorted read, names that need quoting too; a
// name loaded since ends a coded read with ErrUnknownName, and the read
// after it spells the names out again, then codes them with the new one.
func TestStoredSliceCodes(t *testing.T) {
	s := testenv.MustOpenStore(t)
	q := rawQuery
	testenv.InsertRaw(t, s, "raw", oddNames(q.Start, 3000, []string{"n'1", "n\\2", "n?3", ""}))
	check := func(step string, wantCoded bool) {
		t.Helper()
		sorted, err := iterRows(t, s, &q)
		if err != nil {
			t.Fatal(err)
		}
		got, coded, err := storedRowsCoded(t, s, &q, 0, 0)
		if err != nil || coded != wantCoded {
			t.Fatalf("%s: %v, coded %v; want coded %v", step, err, coded, wantCoded)
		}
		if len(got) != len(sorted) {
			t.Fatalf("%s: got %d rows, want %d", step, len(got), len(sorted))
		}
		for i := range sorted {
			if got[i] != sorted[i] {
				t.Fatalf("%s: row %d: got %+v, want %+v", step, i, got[i], sorted[i])
			}
		}
	}
	if _, coded, err := storedRowsCoded(t, s, &q, 0, 0); err != nil || coded {
		t.Fatalf("first read: %v, coded %v; want spelt out", err, coded)
	}
	check("names seen", true)

	testenv.InsertRaw(t, s, "raw", oddNames(q.Start.Add(time.Hour), 10, []string{"a node new"}))
	got, coded, err := storedRowsCoded(t, s, &q, 0, 0)
	if !errors.Is(err, chstore.ErrUnknownName) || !coded {
		t.Fatalf("a new name: got %d rows, %v, coded %v; want %v", len(got), err, coded, chstore.ErrUnknownName)
	}
	if _, coded, err := storedRowsCoded(t, s, &q, 0, 0); err != nil || coded {
		t.Fatalf("after a new name: %v, coded %v; want spelt out", err, coded)
	}
	check("the new name learnt", true)
}
