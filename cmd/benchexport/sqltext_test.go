package main

// An internal test: package main cannot be imported by an external one.

import (
	"context"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestInlinedExportSQLSelectsTheSameRows: the baseline's SQL text, with
// literals in place of parameters, selects on the real ClickHouse exactly
// what the export's bound query selects, filters of every kind included.
func TestInlinedExportSQLSelectsTheSameRows(t *testing.T) {
	store := testenv.MustOpenStore(t)
	n := chstore.DemoNetwork("array_of_things")
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := store.Seed(context.Background(), n, 20_000, end); err != nil {
		t.Fatal(err)
	}
	for _, args := range []url.Values{
		{"start_datetime": {"2025-12-20T00:00:00"}, "end_datetime": {"2026-01-01T00:00:00"}},
		{"start_datetime": {"2025-12-27T06:00:00"}, "end_datetime": {"2025-12-30T00:00:00"},
			"nodes": {n.Nodes[3].ID + "," + n.Nodes[50].ID}, "sensors": {"htu21d,hmc5883l"},
			"features": {"temperature,magnetic_field.z"}},
	} {
		q, err := schema.ParseQuery(schema.Download, args, n, end)
		if err != nil {
			t.Fatal(err)
		}
		sql, params := chstore.ExportSQL(&q, q.Start, q.End)
		text, err := inlineSQL(sql, params)
		if err != nil {
			t.Fatal(err)
		}
		want := testenv.DirectRows(t, store, sql, params...)
		got := testenv.DirectRows(t, store, text)
		if len(want) == 0 {
			t.Fatalf("%v: fixture selects nothing", args)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s\nselects %d rows, the bound query %d", text, len(got), len(want))
		}
	}
}

func TestInlineSQLLiterals(t *testing.T) {
	got, err := inlineSQL("SELECT '?', ? , ?", []any{`it's a \ test`, uint32(7)})
	if want := `SELECT '?', 'it\'s a \\ test' , 7`; err != nil || got != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
	if _, err := inlineSQL("SELECT ?", nil); err == nil {
		t.Fatal("a placeholder without an argument: no error")
	}
	if _, err := inlineSQL("SELECT 1", []any{1}); err == nil {
		t.Fatal("an argument without a placeholder: no error")
	}
	if _, err := inlineSQL("SELECT ?", []any{1.5}); err == nil {
		t.Fatal("an unknown type: no error")
	}
}
