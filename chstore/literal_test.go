package chstore_test

import (
	"context"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestInlinedExportSQLSelectsTheSameRows: the export's SQL text, with
// literals in place of parameters (what the export reader sends, and the
// benchmark's baseline runs), selects on the real ClickHouse exactly what
// clickhouse-go's binding of the query selects.
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
		{"start_datetime": {"2025-12-20T00:00:00"}, "end_datetime": {"2026-01-01T00:00:00"},
			"filter": {`{"op":"or","val":[{"op":"ge","prop":"temperature.temperature","val":"25.25"},{"op":"lt","prop":"x","val":-0.1}]}`}},
	} {
		q, err := schema.ParseQuery(schema.Download, args, n, end)
		if err != nil {
			t.Fatal(err)
		}
		sql, params := chstore.ExportSQL(&q, q.Start, q.End)
		text, err := chstore.InlineSQL(sql, params)
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
	got, err := chstore.InlineSQL("SELECT '?', ? , ?", []any{`it's a \ test`, uint32(7)})
	if want := `SELECT '?', 'it\'s a \\ test' , 7`; err != nil || got != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
	if _, err := chstore.InlineSQL("SELECT ?", nil); err == nil {
		t.Fatal("a placeholder without an argument: no error")
	}
	if _, err := chstore.InlineSQL("SELECT 1", []any{1}); err == nil {
		t.Fatal("an argument without a placeholder: no error")
	}
	if _, err := chstore.InlineSQL("SELECT ?", []any{1.5 + 0i}); err == nil {
		t.Fatal("an unknown type: no error")
	}
	got, err = chstore.InlineSQL("SELECT ?, ?", []any{-0.1, clickhouse.GroupSet{Value: []any{1e21, "a"}}})
	if want := `SELECT cast(-0.1, 'Float64'), (cast(1e+21, 'Float64'), 'a')`; err != nil || got != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}
