package schema_test

import (
	"strings"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

func TestDDL(t *testing.T) {
	stmts := schema.DDL()
	want := []string{"observations", "networks", "nodes", "sensors", "features", "loads"}
	adds := []string{"ALTER TABLE features ADD COLUMN common_names Array(String)"}
	rollup := []string{"CREATE TABLE IF NOT EXISTS observations_hourly (",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS observations_hourly_mv TO observations_hourly AS\nSELECT "}
	if len(stmts) != len(want)+len(adds)+len(rollup) {
		t.Fatalf("got %d statements, want %d: %q", len(stmts), len(want)+len(adds)+len(rollup), stmts)
	}
	for i, r := range rollup {
		if s := stmts[len(want)+len(adds)+i]; !strings.HasPrefix(s, r) || strings.Contains(s, ";") || strings.Contains(s, "--") {
			t.Errorf("got statement %d %q, want one statement without comments starting %q", len(want)+len(adds)+i, s, r)
		}
	}
	for i, a := range adds {
		if s := stmts[len(want)+i]; !strings.HasPrefix(s, a) || !schema.IsAddColumn(s) {
			t.Errorf("got statement %d %q, want it to start %q and be taken as adding a column", len(want)+i, s, a)
		}
	}
	for i, s := range stmts[:len(want)] {
		if schema.IsAddColumn(s) {
			t.Errorf("statement %d %q taken as adding a column", i, s)
		}
		if prefix := "CREATE TABLE IF NOT EXISTS " + want[i] + " ("; !strings.HasPrefix(s, prefix) {
			t.Errorf("got statement %d %q, want it to start %q", i, s, prefix)
		}
		if strings.Contains(s, ";") || strings.Contains(s, "--") {
			t.Errorf("got statement %d %q, want one statement without comments", i, s)
		}
		if !strings.Contains(s, "ENGINE = ") {
			t.Errorf("got statement %d %q, want an engine", i, s)
		}
	}
}
