package chstore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
)

// TestNetworkRoundTrip: what SaveNetwork writes, Network reads back,
// feature properties' common names included.
func TestNetworkRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := testenv.MustOpenStore(t)
	n := chstore.DemoNetwork("array_of_things")
	if err := s.SaveNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	got, err := s.Network(ctx, "array_of_things")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Features, n.Features) {
		t.Errorf("features: got %+v, want %+v", got.Features, n.Features)
	}
	for _, f := range got.Features {
		for _, p := range f.Properties {
			if p.CommonName == "" {
				t.Errorf("%s.%s: no common name stored", f.Name, p.Name)
			}
		}
	}
}

// TestOpenAddsCommonNames: a database made before features had common
// names gets the column on Open, keeps its rows (with no common name),
// and opens again without complaint.
func TestOpenAddsCommonNames(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := testenv.RandomName("exportd_test_")
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Cleanup(func() { testenv.DropDatabase(t, db) })
	for _, stmt := range []string{
		"CREATE DATABASE " + db,
		"CREATE TABLE " + db + `.features (network String, name String, properties Array(String), types Array(String),
			units Array(String), version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY (network, name)`,
		"CREATE TABLE " + db + ".networks (name String, info String, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY name",
	} {
		if err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	for _, ins := range []struct {
		stmt string
		row  []any
	}{
		{"INSERT INTO " + db + ".networks (name, info, version)", []any{"old", "{}", uint64(1)}},
		{"INSERT INTO " + db + ".features (network, name, properties, types, units, version)",
			[]any{"old", "temperature", []string{"temperature"}, []string{"float"}, []string{"celsius"}, uint64(1)}},
	} {
		b, err := conn.PrepareBatch(ctx, ins.stmt)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append(ins.row...); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		s, err := chstore.Open(ctx, chstore.Config{Addr: testenv.ClickHouseAddr(), Database: db})
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		n, err := s.Network(ctx, "old")
		s.Close()
		if err != nil {
			t.Fatalf("open %d: read: %v", i+1, err)
		}
		if len(n.Features) != 1 || len(n.Features[0].Properties) != 1 || n.Features[0].Properties[0].Unit != "celsius" ||
			n.Features[0].Properties[0].CommonName != "" {
			t.Fatalf("open %d: got features %+v, want the old row with no common name", i+1, n.Features)
		}
	}
}
