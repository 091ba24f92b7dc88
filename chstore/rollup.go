package chstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"
)

// The hourly rollup (schema/ddl/005_observations_hourly.sql).
//
// /aggregate of one node's feature over a week read every row of the week
// from observations, which is ordered by time: the bench's hourly average
// of one node over 20 M rows cost ClickHouse 2.1 s of CPU (p99 1.1 s on two
// cores), filtering on the node first (PREWHERE) still 1.4-1.7 s, since
// every granule holds every node. observations_hourly holds each hour's
// aggregate states by node and feature (129 600 rows for the 20 M) and
// answers the same query from 18 398 rows read, 2-7 ms of CPU. It answers
// count, avg, min, max, std and var by hour, day, week, month and year;
// minutes and the exact median (which needs every value) read
// observations. A window that does not start or end on an hour takes its
// partial hours from observations (a cheap range of its time order) and
// merges their states with the rollup's.
//
// Every row of observations must be in the rollup exactly once:
//   - an INSERT into observations: the materialized view;
//   - a load's ATTACH PARTITION, which no view sees: Load.commit adds the
//     staged rows' states after the attach, and a run that died between the
//     two is repaired by the next (Load.recoverHourly);
//   - rows stored before the rollup existed: Open backfills them once
//     (migrateHourly), checks each month's count, then creates hourlyReady;
//     until it exists the rollup is not read.
//
// Counts, min and max are exactly the raw query's; avg, std and var are
// sums of floats in another order, equal to the raw query's to about 1e-15
// relative, as the raw query is to itself (its avg moved in the last digits
// between max_threads 1 and 2 on the bench data).

// hourlySelect is the view's SELECT, without FROM: the states of each hour's
// readings, for the backfill and the loads.
const hourlySelect = "SELECT network, node_id, sensor, feature, property, toDateTime(intDiv(toUInt32(ts), 3600) * 3600) AS hour," +
	" countState() AS n_state, avgState(value) AS avg_state, minState(value) AS min_state," +
	" maxState(value) AS max_state, varSampStableState(value) AS var_state"

// hourlyGroup ends hourlySelect's statements.
const hourlyGroup = " GROUP BY network, node_id, sensor, feature, property, hour"

// hourlyReady exists once the rollup holds every row of observations.
const hourlyReady = "observations_hourly_ready"

// migrateHourly makes the rollup usable: when hourlyReady is missing, it
// computes every month of observations into a table of its own and puts
// each month into the rollup with REPLACE PARTITION, replacing whatever the
// view had added meanwhile (a month the rollup holds and observations no
// longer does, removed by an operator, is dropped: docs/operations.md),
// then creates hourlyReady. Every step can run
// twice, or in two processes opening at once: a month replaced again is the
// same month. Rows inserted while a month is computed and before it is
// replaced would be in neither, so each month's count in the rollup is then
// compared with observations', and a month that differs is done again, up
// to hourlyTries times; a database still written to so fast that it never
// agrees keeps reading observations (slower, never wrong) until the next
// Open tries again.
func (s *Store) migrateHourly(ctx context.Context) error {
	var ready uint8
	if err := s.conn.QueryRow(ctx, "EXISTS TABLE "+hourlyReady).Scan(&ready); err != nil {
		return translate(fmt.Errorf("rollup: %w", err))
	}
	if ready == 1 {
		s.hourly = true
		return nil
	}
	months, err := s.partitions(ctx, "observations")
	if err != nil {
		return err
	}
	rolled, err := s.partitions(ctx, "observations_hourly") // a month dropped from observations is among these
	if err != nil {
		return err
	}
	months = union(months, rolled)
	for try := 0; len(months) > 0; try++ {
		if try == hourlyTries {
			return nil
		}
		if err := s.backfillHourly(ctx, months); err != nil {
			return err
		}
		if months, err = s.hourlyShort(ctx); err != nil {
			return err
		}
	}
	if err := s.conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+hourlyReady+" (done UInt8) ENGINE = TinyLog"); err != nil {
		return translate(fmt.Errorf("rollup: %w", err))
	}
	s.hourly = true
	return nil
}

// hourlyTries bounds how often migrateHourly computes a month again.
const hourlyTries = 3

// afterHourlyCompute, when set (by tests), runs after the backfill has
// computed its months and before it puts them into the rollup.
var afterHourlyCompute func()

// backfillHourly computes months (partition ids of observations) into a
// table of their own and replaces the rollup's months with them.
func (s *Store) backfillHourly(ctx context.Context, months []string) error {
	tmp := fmt.Sprintf("observations_hourly_backfill_%016x", time.Now().UnixNano())
	if err := s.conn.Exec(ctx, "CREATE TABLE "+tmp+" AS observations_hourly"); err != nil {
		return translate(fmt.Errorf("rollup backfill: %w", err))
	}
	defer func() { _ = s.conn.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+tmp) }()
	for _, m := range months { // a month at a time bounds the GROUP BY's memory
		if err := s.conn.Exec(ctx, "INSERT INTO "+tmp+" "+hourlySelect+" FROM observations WHERE toYYYYMM(ts) = "+m+hourlyGroup); err != nil {
			return translate(fmt.Errorf("rollup backfill %s: %w", m, err))
		}
	}
	if afterHourlyCompute != nil {
		afterHourlyCompute()
	}
	ids, err := s.partitions(ctx, tmp)
	if err != nil {
		return err
	}
	computed := map[string]bool{}
	for _, id := range ids {
		computed[id] = true
		if err := s.conn.Exec(ctx, "ALTER TABLE observations_hourly REPLACE PARTITION ID '"+id+"' FROM "+tmp); err != nil {
			return translate(fmt.Errorf("rollup backfill %s: %w", id, err))
		}
	}
	// A month with no rows left in observations (an operator dropped it)
	// computes to nothing, which replaces nothing: its states are dropped.
	for _, m := range months {
		if !computed[m] {
			if err := s.conn.Exec(ctx, "ALTER TABLE observations_hourly DROP PARTITION ID '"+m+"'"); err != nil {
				return translate(fmt.Errorf("rollup backfill %s: %w", m, err))
			}
		}
	}
	return nil
}

// hourlyShort lists the months (partition ids) whose row count in
// observations the rollup's counts do not add up to, a month the rollup
// holds and observations does not among them.
func (s *Store) hourlyShort(ctx context.Context) ([]string, error) {
	count := func(q string) (map[string]uint64, error) {
		rows, err := s.conn.Query(ctx, q)
		if err != nil {
			return nil, translate(fmt.Errorf("rollup check: %w", err))
		}
		defer rows.Close()
		n := map[string]uint64{}
		for rows.Next() {
			var m uint32
			var c uint64
			if err := rows.Scan(&m, &c); err != nil {
				return nil, translate(err)
			}
			n[fmt.Sprint(m)] = c
		}
		return n, translate(rows.Err())
	}
	raw, err := count("SELECT toYYYYMM(ts) AS m, count() FROM observations GROUP BY m ORDER BY m")
	if err != nil {
		return nil, err
	}
	rolled, err := count("SELECT toYYYYMM(hour) AS m, countMerge(n_state) FROM observations_hourly GROUP BY m ORDER BY m")
	if err != nil {
		return nil, err
	}
	var short []string
	for m, c := range raw {
		if rolled[m] != c {
			short = append(short, m)
		}
	}
	for m := range rolled { // a month dropped from observations, still rolled up
		if _, ok := raw[m]; !ok {
			short = append(short, m)
		}
	}
	sort.Strings(short)
	return short, nil
}

// union is the sorted ids in a or b.
func union(a, b []string) []string {
	u := append(slices.Clone(a), b...)
	slices.Sort(u)
	return slices.Compact(u)
}

// partitions lists a table's partition ids that hold rows.
func (s *Store) partitions(ctx context.Context, table string) ([]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT partition_id FROM system.parts WHERE database = ? AND table = ? AND active ORDER BY partition_id",
		s.db, table)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, translate(err)
		}
		if !partitionIDRE.MatchString(id) {
			return nil, fmt.Errorf("chstore: unexpected partition id %q in %s", id, table)
		}
		ids = append(ids, id)
	}
	return ids, translate(rows.Err())
}

// recoverHourly puts the past rows recover found (n rows at or after the
// checkpoint, one attached month) into the rollup, unless the run that
// attached them died after adding them. The rollup's count from the
// checkpoint's hour on is observations' when it has them, and short of it
// by exactly n when it does not: no other writer stores past the
// checkpoint while this run holds the network's load.
func (l *Load) recoverHourly(ctx context.Context, n uint64) error {
	hour := l.until / 3600 * 3600
	var stored, rolled uint64
	if err := l.s.conn.QueryRow(ctx, "SELECT count() FROM observations WHERE network = ? AND ts >= toDateTime(?)",
		l.network, uint32(hour)).Scan(&stored); err != nil {
		return translate(fmt.Errorf("load checkpoint: %w", err))
	}
	if err := l.s.conn.QueryRow(ctx, "SELECT countMerge(n_state) FROM observations_hourly WHERE network = ? AND hour >= toDateTime(?)",
		l.network, uint32(hour)).Scan(&rolled); err != nil {
		return translate(fmt.Errorf("load checkpoint: %w", err))
	}
	switch {
	case rolled == stored:
		return nil
	case rolled+n == stored:
		err := l.s.conn.Exec(ctx, "INSERT INTO observations_hourly "+hourlySelect+" FROM observations WHERE network = ? AND ts >= toDateTime(?)"+hourlyGroup,
			l.network, uint32(l.until))
		return translate(err)
	}
	return fmt.Errorf("chstore: network %s: the hourly rollup holds %d readings from %s on, observations %d, %d of them past the load checkpoint",
		l.network, rolled, time.Unix(hour, 0).UTC().Format(time.DateTime), stored, n)
}
