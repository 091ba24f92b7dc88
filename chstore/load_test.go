package chstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// sliceSource serves rows; after stopAfter rows (when set) it calls stop.
type sliceSource struct {
	rows      []schema.Row
	i         int
	stopAfter int
	stop      func()
}

func (s *sliceSource) Next(r *schema.Row) bool {
	if s.stop != nil && s.i == s.stopAfter {
		s.stop()
	}
	if s.i == len(s.rows) {
		return false
	}
	*r = s.rows[s.i]
	s.i++
	return true
}

func (s *sliceSource) Err() error { return nil }

// threeMonths is one row a minute from 2018-02-27 to 2018-04-02, two
// readings of one property in every tenth second.
func threeMonths() []schema.Row {
	var out []schema.Row
	start := time.Date(2018, 2, 27, 0, 0, 0, 0, time.UTC)
	for t := start; t.Before(time.Date(2018, 4, 2, 0, 0, 0, 0, time.UTC)); t = t.Add(time.Minute) {
		out = append(out, schema.Row{Node: "n1", TS: t, Sensor: "s.a", Feature: "temperature", Property: "temperature", Value: float64(t.Unix() % 100)})
		if t.Unix()%600 == 0 {
			out = append(out, schema.Row{Node: "n1", TS: t, Sensor: "s.a", Feature: "temperature", Property: "temperature", Value: -1})
		}
	}
	return out
}

func mustLoad(t *testing.T, s *chstore.Store, src chstore.RowSource) (chstore.LoadStats, *chstore.Load, error) {
	t.Helper()
	ctx := context.Background()
	l, err := s.BeginLoad(ctx, "aot_test", "AoT_Test.complete")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	l.BatchRows = 5000
	st, err := l.Run(ctx, src)
	return st, l, err
}

// stored counts the network's rows, and the rows that are not unique.
func stored(t *testing.T, s *chstore.Store) (rows uint64, repeated int64) {
	t.Helper()
	conn := direct(t, s)
	if err := conn.QueryRow(context.Background(), "SELECT count(), count() - uniqExact(ts, value) FROM observations WHERE network = 'aot_test'").Scan(&rows, &repeated); err != nil {
		t.Fatal(err)
	}
	return rows, repeated
}

func direct(t *testing.T, s *chstore.Store) clickhouse.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()}, Auth: clickhouse.Auth{Database: s.Database()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestLoadExactlyOnce(t *testing.T) {
	s := testenv.MustOpenStore(t)
	rows := threeMonths()
	want := uint64(len(rows))

	// A run cancelled a little into April keeps February and March.
	ctx, cancel := context.WithCancel(context.Background())
	l, err := s.BeginLoad(ctx, "aot_test", "AoT_Test.complete")
	if err != nil {
		t.Fatal(err)
	}
	l.BatchRows = 5000
	april := 0
	for rows[april].TS.Before(time.Date(2018, 4, 1, 0, 0, 0, 0, time.UTC)) {
		april++
	}
	src := &sliceSource{rows: rows, stopAfter: april + 100, stop: cancel}
	if _, err := l.Run(ctx, src); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: got %v, want context.Canceled", err)
	}
	_ = l.Close(context.Background())
	// March's commit may or may not have run before the cancel reached
	// the sender; February's had.
	if got := l.LoadedUntil(); !got.Equal(time.Date(2018, 3, 31, 23, 59, 1, 0, time.UTC)) && !got.Equal(time.Date(2018, 2, 28, 23, 59, 1, 0, time.UTC)) {
		t.Errorf("got checkpoint %v after the cancelled run, want the end of February or March", got)
	}
	if n, _ := stored(t, s); n == 0 || n >= want {
		t.Fatalf("the cancelled run stored %d rows, want some of %d", n, want)
	}

	// The rerun stores the rest, once.
	st, _, err := mustLoad(t, s, &sliceSource{rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	if n, rep := stored(t, s); n != want || rep != 0 || st.Months < 1 || st.Months > 2 {
		t.Fatalf("after the rerun: %d rows (%d repeated), %d months attached, want %d, none repeated, April (and March)", n, rep, st.Months, want)
	}

	// A third run adds nothing.
	st, _, err = mustLoad(t, s, &sliceSource{rows: rows})
	if err != nil || st.Rows != 0 || st.Before != int64(want) {
		t.Fatalf("third run: %+v, %v, want every row before the checkpoint", st, err)
	}

	// A run that died between attaching a month and recording it: the
	// checkpoint says April began, April's rows are there. BeginLoad finds
	// the attached month and moves past it.
	conn := direct(t, s)
	b, err := conn.PrepareBatch(context.Background(), "INSERT INTO loads (network, project, loaded_until, info, version)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("aot_test", "AoT_Test.complete", time.Date(2018, 4, 1, 0, 0, 0, 0, time.UTC), `{"finished":false}`, uint64(time.Now().UnixNano())); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	st, l, err = mustLoad(t, s, &sliceSource{rows: rows})
	if err != nil || !l.Recovered || st.Rows != 0 {
		t.Fatalf("after a lost record: %+v, recovered %v, %v; want the attached month found, nothing added", st, l.Recovered, err)
	}
	if n, rep := stored(t, s); n != want || rep != 0 {
		t.Fatalf("after recovery: %d rows (%d repeated), want %d", n, rep, want)
	}
	ls, found, err := s.LoadState(context.Background(), "aot_test")
	if err != nil || !found || !ls.Finished || !ls.LoadedUntil.Equal(rows[len(rows)-1].TS.Add(time.Second)) {
		t.Fatalf("load state %+v, %v, %v; want finished, one second past the last row", ls, found, err)
	}
}

func TestLoadNewerAndOutOfOrder(t *testing.T) {
	s := testenv.MustOpenStore(t)
	rows := threeMonths()
	half := len(rows) / 2
	if _, _, err := mustLoad(t, s, &sliceSource{rows: rows[:half]}); err != nil {
		t.Fatal(err)
	}
	// The newer digest holds everything, plus a late line of February
	// after April began: stored once, the late line counted out of order.
	late := append(append([]schema.Row{}, rows...), schema.Row{Node: "n1", TS: time.Date(2018, 4, 1, 12, 0, 0, 0, time.UTC),
		Sensor: "s.a", Feature: "temperature", Property: "temperature", Value: 5})
	late = append(late, schema.Row{Node: "n1", TS: time.Date(2018, 3, 20, 0, 0, 30, 0, time.UTC), Sensor: "s.a", Feature: "temperature", Property: "temperature"})
	st, _, err := mustLoad(t, s, &sliceSource{rows: late})
	if err != nil {
		t.Fatal(err)
	}
	if st.Before != int64(half) || st.OutOfOrder != 1 || st.Rows != int64(len(rows)-half+1) {
		t.Errorf("got %+v, want %d before, 1 out of order, %d stored", st, half, len(rows)-half+1)
	}
	if n, _ := stored(t, s); n != uint64(len(rows)+1) {
		t.Errorf("got %d rows, want %d", n, len(rows)+1)
	}
}

func TestLoadRefusesSeededNetwork(t *testing.T) {
	s := testenv.MustOpenStore(t)
	ctx := context.Background()
	if err := s.Seed(ctx, chstore.DemoNetwork("aot_test"), 1000, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	_, err := s.BeginLoad(ctx, "aot_test", "")
	var se *schema.Error
	if !errors.As(err, &se) || se.Code != schema.Conflict {
		t.Fatalf("got %v, want a conflict", err)
	}
}

// TestLoadsAtOnce: two loads of one network at once (two replicas of
// serve with EXPORTD_LOAD, an overlapping cron) store every reading once:
// the later one is refused as a Conflict that names the running one, and a
// rerun after them adds nothing. Before, both staged into one table and
// 174 400 rows were stored for 100 000 readings.
func TestLoadsAtOnce(t *testing.T) {
	s := testenv.MustOpenStore(t)
	rows := threeMonths()
	want := uint64(len(rows))
	ctx := context.Background()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			l, err := s.BeginLoad(ctx, "aot_test", "AoT_Test.complete")
			if err != nil {
				errs <- err
				return
			}
			defer l.Close(ctx)
			l.BatchRows = 5000
			_, err = l.Run(ctx, &sliceSource{rows: rows})
			errs <- err
		}()
	}
	refused := 0
	for range 2 {
		if err := <-errs; schema.ErrorCode(err) == schema.Conflict {
			refused++
		} else if err != nil {
			t.Fatalf("a load: %v", err)
		}
	}
	if n, rep := stored(t, s); rep != 0 || n > want || n < want && refused == 0 {
		t.Fatalf("two loads at once: %d rows (%d repeated), %d refused; want %d rows, none repeated", n, rep, refused, want)
	}
	if _, _, err := mustLoad(t, s, &sliceSource{rows: rows}); err != nil {
		t.Fatal(err)
	}
	if n, rep := stored(t, s); n != want || rep != 0 {
		t.Fatalf("after a rerun: %d rows (%d repeated), want %d", n, rep, want)
	}
}
