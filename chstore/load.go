package chstore

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// Loading many rows, exactly once.
//
// ClickHouse 18.16 cannot make an insert idempotent: a non-replicated
// MergeTree has no insert deduplication, ReplacingMergeTree only collapses
// rows when it merges (and would collapse two real readings that share a
// second and a value), and ALTER … DELETE is a mutation that rewrites every
// part of the table. So a load never writes to observations directly. It
// puts the rows of one month (one partition of observations) into a staging
// table of its own, in large batches, and when the month is complete
// attaches the staged partition to observations in one step (ALTER TABLE
// observations ATTACH PARTITION ID … FROM staging: hard links, no copy),
// then records in the loads table that every reading before the newest one
// attached plus a second is stored (loaded_until).
//
// A run that dies leaves at most the unattached month in staging, which the
// next run drops. The one gap, a death between the attach and the record,
// shows as rows at or past loaded_until; since only a load's attach writes
// there, they are exactly that month, and BeginLoad moves loaded_until past
// them. Rerunning a digest, or loading a newer one of the same project,
// skips every line before loaded_until (cheaply: by its timestamp) and
// stores the rest. The data is ordered by time, which is what makes a time
// checkpoint enough: a line of an already attached month that turns up
// later in the file is counted out of order, never stored twice.
//
// One load per network at a time: two would share its staging table.

// DefaultLoadBatchRows is the rows of one block sent to staging: ClickHouse
// squashes blocks into parts of a million rows anyway, and three batches in
// flight stay at about 10 MB each.
const DefaultLoadBatchRows = 100_000

// LoadState is a network's load progress.
type LoadState struct {
	Project     string
	LoadedUntil time.Time // every reading before it is stored
	Finished    bool      // the last load read its digest to the end
}

// loadInfo is the loads table's info column.
type loadInfo struct {
	Finished bool `json:"finished"`
}

// Load is one run of loading rows into a network: BeginLoad, Run, Close.
type Load struct {
	// BatchRows is the rows per insert; DefaultLoadBatchRows when zero.
	BatchRows int
	// Recovered says that BeginLoad found a month attached by an earlier
	// run that died before recording it, and recorded it.
	Recovered bool
	// OnCommit, when set, is called after each month is attached, with the
	// new checkpoint and the rows stored so far: progress for a long load.
	OnCommit func(until time.Time, rows int64)

	s                *Store
	network, project string
	staging          string
	until            int64 // loaded_until, Unix seconds
	loc              *time.Location
	version          uint64
	hadState         bool
}

// LoadState returns network's load progress; false when it was never loaded.
func (s *Store) LoadState(ctx context.Context, network string) (LoadState, bool, error) {
	rows, err := s.conn.Query(ctx, "SELECT project, loaded_until, info FROM loads FINAL WHERE network = ?", network)
	if err != nil {
		return LoadState{}, false, translate(err)
	}
	defer rows.Close()
	var st LoadState
	found := false
	for rows.Next() {
		var info string
		if err := rows.Scan(&st.Project, &st.LoadedUntil, &info); err != nil {
			return LoadState{}, false, translate(err)
		}
		var li loadInfo
		_ = json.Unmarshal([]byte(info), &li)
		st.Finished, found = li.Finished, true
		st.LoadedUntil = st.LoadedUntil.UTC()
	}
	return st, found, translate(rows.Err())
}

// BeginLoad prepares a load into network: it reads the checkpoint, repairs
// it after a run that died at the wrong moment, and makes an empty staging
// table. A network holding observations that no load wrote (the demo
// seeder's) is refused: the checkpoint cannot account for them.
func (s *Store) BeginLoad(ctx context.Context, network, project string) (*Load, error) {
	st, found, err := s.LoadState(ctx, network)
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte(network))
	l := &Load{s: s, network: network, project: project, staging: fmt.Sprintf("load_staging_%016x", h.Sum64()), hadState: found}
	if found {
		l.until = st.LoadedUntil.Unix()
	}
	var tz string
	if err := s.conn.QueryRow(ctx, "SELECT timezone()").Scan(&tz); err != nil {
		return nil, translate(err)
	}
	// Partitions are months in the server's time zone.
	if l.loc, err = time.LoadLocation(tz); err != nil {
		return nil, fmt.Errorf("chstore: ClickHouse's time zone %q: %w", tz, err)
	}
	if err := l.recover(ctx); err != nil {
		return nil, err
	}
	for _, q := range []string{"DROP TABLE IF EXISTS " + l.staging, "CREATE TABLE " + l.staging + " AS observations"} {
		if err := s.conn.Exec(ctx, q); err != nil {
			return nil, translate(fmt.Errorf("staging table: %w", err))
		}
	}
	return l, nil
}

// recover moves loaded_until past rows found at or after it.
func (l *Load) recover(ctx context.Context) error {
	var n uint64
	var lo, hi time.Time
	err := l.s.conn.QueryRow(ctx, "SELECT count(), min(ts), max(ts) FROM observations WHERE network = ? AND ts >= toDateTime(?)",
		l.network, uint32(l.until)).Scan(&n, &lo, &hi)
	if err != nil {
		return translate(fmt.Errorf("load checkpoint: %w", err))
	}
	if n == 0 {
		return nil
	}
	if !l.hadState {
		return schema.Errorf(schema.Conflict, "network %s holds %d observations that exportd load did not write (the demo seeder's?): load into another --network", l.network, n)
	}
	if partitionID(lo, l.loc) != partitionID(hi, l.loc) {
		return schema.Errorf(schema.Conflict, "network %s holds observations from %s to %s past its load checkpoint %s, more than one attached month: not written by exportd load",
			l.network, lo.UTC().Format(time.DateTime), hi.UTC().Format(time.DateTime), time.Unix(l.until, 0).UTC().Format(time.DateTime))
	}
	l.Recovered = true
	return l.record(ctx, hi.Unix()+1, false)
}

// LoadedUntil is the checkpoint: every reading before it is stored.
func (l *Load) LoadedUntil() time.Time { return time.Unix(l.until, 0).UTC() }

// record writes the checkpoint.
func (l *Load) record(ctx context.Context, until int64, finished bool) error {
	v := uint64(time.Now().UnixNano())
	if v <= l.version {
		v = l.version + 1
	}
	info, _ := json.Marshal(loadInfo{Finished: finished})
	b, err := l.s.conn.PrepareBatch(ctx, "INSERT INTO loads (network, project, loaded_until, info, version)")
	if err != nil {
		return translate(err)
	}
	if err := b.Append(l.network, l.project, time.Unix(until, 0), string(info), v); err != nil {
		return translate(err)
	}
	if err := b.Send(); err != nil {
		return translate(fmt.Errorf("record load checkpoint: %w", err))
	}
	l.version, l.until = v, until
	return nil
}

// commit attaches the staged month to observations, records the
// checkpoint, and empties staging.
func (l *Load) commit(ctx context.Context, until int64, finished bool) error {
	ids, err := l.stagedPartitions(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := l.s.conn.Exec(ctx, "ALTER TABLE observations ATTACH PARTITION ID '"+id+"' FROM "+l.staging); err != nil {
			return translate(fmt.Errorf("attach %s: %w", id, err))
		}
	}
	if err := l.record(ctx, until, finished); err != nil {
		return err
	}
	for _, id := range ids {
		if err := l.s.conn.Exec(ctx, "ALTER TABLE "+l.staging+" DROP PARTITION ID '"+id+"'"); err != nil {
			return translate(fmt.Errorf("empty staging: %w", err))
		}
	}
	return nil
}

// stagedPartitions lists the partitions staging holds: one, the month
// being loaded.
func (l *Load) stagedPartitions(ctx context.Context) ([]string, error) {
	rows, err := l.s.conn.Query(ctx, "SELECT DISTINCT partition_id FROM system.parts WHERE database = ? AND table = ? AND active ORDER BY partition_id",
		l.s.db, l.staging)
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
			return nil, fmt.Errorf("chstore: unexpected partition id %q in staging", id)
		}
		ids = append(ids, id)
	}
	return ids, translate(rows.Err())
}

// Close drops the staging table; rows staged and not attached are gone,
// as the checkpoint expects.
func (l *Load) Close(ctx context.Context) error {
	return translate(l.s.conn.Exec(ctx, "DROP TABLE IF EXISTS "+l.staging))
}

// partitionID is observations' partition (toYYYYMM) of t in loc.
func partitionID(t time.Time, loc *time.Location) string {
	y, m, _ := t.In(loc).Date()
	return fmt.Sprintf("%04d%02d", y, int(m))
}

// CountNetwork counts a network's observations.
func (s *Store) CountNetwork(ctx context.Context, network string) (int64, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM observations WHERE network = ?", network).Scan(&n); err != nil {
		return 0, translate(err)
	}
	return int64(n), nil
}
