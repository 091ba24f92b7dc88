package schema_test

import (
	"strings"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

func TestDDL(t *testing.T) {
	stmts := schema.DDL()
	want := []string{"observations", "networks", "nodes", "sensors", "features", "loads"}
	if len(stmts) != len(want) {
		t.Fatalf("got %d statements, want %d: %q", len(stmts), len(want), stmts)
	}
	for i, s := range stmts {
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
