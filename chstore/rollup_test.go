package chstore_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// aggregateBoth answers q from the rollup and from observations alone.
func aggregateBoth(t *testing.T, s *chstore.Store, q *schema.AggregateQuery) (rolled, raw []schema.AggregateValue) {
	t.Helper()
	ctx := context.Background()
	var err error
	if rolled, err = s.Aggregate(ctx, q); err != nil {
		t.Fatalf("%s by %s: %v", q.Function, q.Unit, err)
	}
	s.SetHourly(false)
	defer s.SetHourly(true)
	if raw, err = s.Aggregate(ctx, q); err != nil {
		t.Fatalf("%s by %s from observations: %v", q.Function, q.Unit, err)
	}
	return rolled, raw
}

// sameAggregates fails unless got has raw's buckets, properties and counts,
// min and max exactly, and sums (avg, std, var) to 1e-12 relative: raw's own
// last digits depend on how ClickHouse splits the sum among threads.
func sameAggregates(t *testing.T, what string, got, raw []schema.AggregateValue) {
	t.Helper()
	if len(raw) == 0 {
		t.Fatalf("%s: no values from observations: the case tests nothing", what)
	}
	if len(got) != len(raw) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(raw))
	}
	for i, w := range raw {
		g := got[i]
		same := g.Value == w.Value || math.Abs(g.Value-w.Value) <= 1e-12*math.Abs(w.Value) ||
			(math.IsNaN(g.Value) || math.IsInf(g.Value, 0)) && (math.IsNaN(w.Value) || math.IsInf(w.Value, 0))
		if !g.Bucket.Equal(w.Bucket) || g.Property != w.Property || g.Count != w.Count || !same {
			t.Fatalf("%s: value %d got %+v, want %+v", what, i, g, w)
		}
	}
}

// dropRollup makes s's database one from before the rollup: its next Open
// backfills it.
func dropRollup(t *testing.T, s *chstore.Store) {
	t.Helper()
	conn := direct(t, s)
	for _, stmt := range []string{"DROP TABLE observations_hourly_ready", "DROP TABLE observations_hourly_mv", "DROP TABLE observations_hourly"} {
		if err := conn.Exec(context.Background(), stmt); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAggregateRollup: every function the rollup answers, by every unit it
// answers, equals the same aggregate of observations, for windows on whole
// hours and not, with and without a sensor filter; for rows seeded after the
// view existed, rows inserted later, and rows stored before the rollup
// existed (an old database, backfilled when opened).
func TestAggregateRollup(t *testing.T) {
	ctx := context.Background()
	s := testenv.MustOpenStore(t)
	n := chstore.DemoNetwork("array_of_things")
	if err := s.Seed(ctx, n, 60_000, seedEnd); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, s *chstore.Store) {
		windows := [][2]time.Time{
			{seedEnd.Add(-50 * time.Hour), seedEnd.Add(-2 * time.Hour)},                                               // whole hours
			{seedEnd.Add(-50*time.Hour + 17*time.Minute + 31*time.Second), seedEnd.Add(-2*time.Hour - 5*time.Minute)}, // partial ones
			{seedEnd.Add(-9 * 24 * time.Hour), seedEnd.Add(-3*time.Hour + time.Second)},                               // from before the data
			{seedEnd.Add(-5*time.Hour + 10*time.Minute), seedEnd.Add(-4*time.Hour + 50*time.Minute)},                  // inside one hour
		}
		for _, w := range windows {
			for _, unit := range []string{"hour", "day", "week", "month", "year"} {
				for _, fn := range []string{"avg", "std", "var", "min", "max"} {
					for _, sensors := range [][]string{nil, {"tmp112", "bmp180"}} {
						q := schema.AggregateQuery{Network: n.Name, Node: n.Nodes[3].ID, Feature: schema.FeatureSel{Feature: "temperature"},
							Properties: []string{"temperature"}, Sensors: sensors, Function: fn, Unit: unit, Start: w[0], End: w[1]}
						if unit == "week" {
							q.Feature, q.Properties = schema.FeatureSel{Feature: "magnetic_field"}, []string{"x", "y", "z"}
							if sensors != nil {
								q.Sensors = []string{"hmc5883l"}
							}
						}
						got, raw := aggregateBoth(t, s, &q)
						sameAggregates(t, fmt.Sprintf("%s by %s %v..%v sensors %v", fn, unit, w[0], w[1], sensors), got, raw)
					}
				}
			}
		}
	}
	t.Run("seeded", func(t *testing.T) { check(t, s) })

	t.Run("inserted later", func(t *testing.T) {
		var rows []testenv.Obs
		for i := range 500 {
			rows = append(rows, testenv.Obs{Node: n.Nodes[3].ID, TS: seedEnd.Add(-time.Duration(i*7) * time.Minute).Format("2006-01-02T15:04:05"), Sensor: "tmp112",
				Feature: "temperature", Property: "temperature", Value: float64(i%13) - 4.5})
		}
		testenv.InsertRaw(t, s, n.Name, rows)
		check(t, s)
	})

	t.Run("old database backfilled", func(t *testing.T) {
		dropRollup(t, s)
		again, err := chstore.Open(ctx, chstore.Config{Addr: testenv.ClickHouseAddr(), Database: s.Database()})
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		check(t, again)
	})

	// Rows stored while the backfill computes a month would be replaced
	// out of the rollup with the view's copy of them: the month's count
	// tells, and the month is done again.
	t.Run("stored during the backfill", func(t *testing.T) {
		dropRollup(t, s)
		var rows []testenv.Obs
		for i := range 300 {
			rows = append(rows, testenv.Obs{Node: n.Nodes[3].ID, TS: seedEnd.Add(-time.Duration(i*11)*time.Minute - 3*time.Second).Format("2006-01-02T15:04:05"),
				Sensor: "tmp112", Feature: "temperature", Property: "temperature", Value: float64(i%7) + 0.25})
		}
		inserted := 0
		chstore.AfterHourlyCompute(func() {
			if inserted == 0 {
				testenv.InsertRaw(t, s, n.Name, rows)
			}
			inserted++
		})
		defer chstore.AfterHourlyCompute(nil)
		again, err := chstore.Open(ctx, chstore.Config{Addr: testenv.ClickHouseAddr(), Database: s.Database()})
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		if inserted < 2 {
			t.Fatalf("the backfill ran %d times, want a second after rows came during the first", inserted)
		}
		check(t, again)
	})

	// An operator who drops a month from observations and the marker
	// (docs/operations.md) has it dropped from the rollup at the next Open:
	// the month computes to nothing, which replaces nothing.
	t.Run("month dropped from observations", func(t *testing.T) {
		month := time.Date(2026, 8, 10, 0, 0, 0, 0, time.UTC)
		var rows []testenv.Obs
		for i := range 200 {
			rows = append(rows, testenv.Obs{Node: n.Nodes[3].ID, TS: month.Add(time.Duration(i) * 10 * time.Minute).Format("2006-01-02T15:04:05"),
				Sensor: "tmp112", Feature: "temperature", Property: "temperature", Value: float64(i % 5)})
		}
		testenv.InsertRaw(t, s, n.Name, rows)
		q := schema.AggregateQuery{Network: n.Name, Node: n.Nodes[3].ID, Feature: schema.FeatureSel{Feature: "temperature"},
			Properties: []string{"temperature"}, Function: "avg", Unit: "day", Start: month, End: month.Add(5 * 24 * time.Hour)}
		got, raw := aggregateBoth(t, s, &q)
		sameAggregates(t, "the month before it is dropped", got, raw)
		conn := direct(t, s)
		var id string
		if err := conn.QueryRow(ctx, "SELECT toString(toYYYYMM(toDateTime(?)))", uint32(month.Unix())).Scan(&id); err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{"ALTER TABLE observations DROP PARTITION ID '" + id + "'", "DROP TABLE observations_hourly_ready"} {
			if err := conn.Exec(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		again, err := chstore.Open(ctx, chstore.Config{Addr: testenv.ClickHouseAddr(), Database: s.Database()})
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		if got, err := again.Aggregate(ctx, &q); err != nil || len(got) != 0 {
			t.Fatalf("after the month was dropped from observations the rollup answers %d values (%v), want none", len(got), err)
		}
		check(t, again)
	})

	t.Run("read", func(t *testing.T) {
		// An emptied rollup answers nothing for whole hours: the answers
		// above came from it, not from observations.
		if err := direct(t, s).Exec(ctx, "TRUNCATE TABLE observations_hourly"); err != nil {
			t.Fatal(err)
		}
		q := schema.AggregateQuery{Network: n.Name, Node: n.Nodes[3].ID, Feature: schema.FeatureSel{Feature: "temperature"},
			Properties: []string{"temperature"}, Function: "avg", Unit: "hour", Start: seedEnd.Add(-50 * time.Hour), End: seedEnd}
		if got, raw := aggregateBoth(t, s, &q); len(got) != 0 || len(raw) == 0 {
			t.Fatalf("got %d values from an empty rollup, %d from observations; want 0 and some", len(got), len(raw))
		}
	})
}

// TestLoadRollup: a load's attached months, which the view never sees, are
// in the rollup; and a run that died after its attach and before the
// rollup's insert is repaired by the next, without counting a month twice
// when the dead run had inserted it.
func TestLoadRollup(t *testing.T) {
	ctx := context.Background()
	s := testenv.MustOpenStore(t)
	if _, _, err := mustLoad(t, s, &sliceSource{rows: threeMonths()}); err != nil {
		t.Fatal(err)
	}
	q := schema.AggregateQuery{Network: "aot_test", Node: "n1", Feature: schema.FeatureSel{Feature: "temperature"},
		Properties: []string{"temperature"}, Function: "avg", Unit: "day",
		Start: time.Date(2018, 2, 20, 0, 0, 0, 0, time.UTC), End: time.Date(2018, 4, 5, 0, 0, 0, 0, time.UTC)}
	got, raw := aggregateBoth(t, s, &q)
	sameAggregates(t, "loaded", got, raw)

	// As a run that died after attaching April: the checkpoint before it.
	conn := direct(t, s)
	back := func() {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, "INSERT INTO loads (network, project, loaded_until, info, version)")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append("aot_test", "AoT_Test.complete", time.Date(2018, 4, 1, 0, 0, 0, 0, time.UTC), "{}", uint64(time.Now().UnixNano())); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	back() // ... and after adding its states
	l, err := s.BeginLoad(ctx, "aot_test", "AoT_Test.complete")
	if err != nil || !l.Recovered {
		t.Fatalf("BeginLoad: recovered %v, %v; want a recovered month", l != nil && l.Recovered, err)
	}
	l.Close(ctx)
	got, raw = aggregateBoth(t, s, &q)
	sameAggregates(t, "recovered with its rollup", got, raw)

	back() // ... and before adding them
	if err := conn.Exec(ctx, "ALTER TABLE observations_hourly DROP PARTITION ID '201804'"); err != nil {
		t.Fatal(err)
	}
	if l, err = s.BeginLoad(ctx, "aot_test", "AoT_Test.complete"); err != nil || !l.Recovered {
		t.Fatalf("BeginLoad: %v; want a recovered month", err)
	}
	l.Close(ctx)
	got, raw = aggregateBoth(t, s, &q)
	sameAggregates(t, "recovered without its rollup", got, raw)
}
