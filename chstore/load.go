package chstore

import (
	"context"
	"encoding/json"
	"errors"
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
// One load per network at a time. Each run stages into a table of its
// own, named by the network and the moment it began (claim): a run that
// finds an older one of the network's staging tables still in use is
// refused, and one that was left by a run that died (no part written for
// LoadStale, or at once when it was made on this machine by a process
// that is gone: loadowner.go) is dropped. Two loads at once shared one staging table
// before, and stored months twice (TestLoadsAtOnce).

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
	staging, prefix  string // staging table, and the start of the network's staging tables' names
	until            int64  // loaded_until, Unix seconds
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
	prefix := fmt.Sprintf("load_staging_%016x", h.Sum64())
	l := &Load{s: s, network: network, project: project, staging: fmt.Sprintf("%s_%016x%s", prefix, time.Now().UnixNano(), ownerTag()),
		prefix: prefix, hadState: found}
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
	if err := s.conn.Exec(ctx, "CREATE TABLE "+l.staging+" AS observations"); err != nil {
		return nil, translate(fmt.Errorf("staging table: %w", err))
	}
	if err := l.claim(ctx); err != nil {
		_ = l.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := l.recover(ctx); err != nil {
		_ = l.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return l, nil
}

// ErrLoadRunning is the cause of BeginLoad's Conflict when another load of
// the network is running.
var ErrLoadRunning = errors.New("chstore: another load of the network is running")

// LoadStale is how long a staging table may go without a new part before a
// load of its network takes it for one left by a run that died, and drops
// it. A live run writes a part every batch, but skipping the lines before
// the checkpoint writes none: a run taken over so fails at its next write
// instead of storing anything twice.
var LoadStale = 10 * time.Minute

// stagingTable is a staging table of the network as claim sees it.
type stagingTable struct {
	name             string
	created, written uint32 // Unix seconds, by ClickHouse's clock
}

// before orders runs by their tables' creation, then names.
func (a stagingTable) before(b stagingTable) bool {
	return a.created < b.created || a.created == b.created && a.name < b.name
}

// claim makes l the network's one load: the staging tables of its other
// runs (names starting with prefix) are dropped when stale, and one made
// before l's that is live refuses l. BeginLoad claims, and every commit
// claims again before it attaches: two runs that began at once may each
// have looked before the other's table existed, but both tables exist by
// the first commit, and both runs then agree which one goes on.
func (l *Load) claim(ctx context.Context) error {
	rows, err := l.s.conn.Query(ctx, "SELECT t.name, toUInt32(t.metadata_modification_time), toUInt32(ifNull(p.last, toDateTime(0))), toUInt32(now())"+
		" FROM system.tables AS t ANY LEFT JOIN (SELECT table AS name, max(modification_time) AS last FROM system.parts WHERE database = ? GROUP BY table) AS p USING name"+
		" WHERE t.database = ? AND startsWith(t.name, ?)", l.s.db, l.s.db, l.prefix)
	if err != nil {
		return translate(fmt.Errorf("staging tables: %w", err))
	}
	var mine stagingTable
	var others []stagingTable
	var now uint32
	for rows.Next() {
		var t stagingTable
		if err := rows.Scan(&t.name, &t.created, &t.written, &now); err != nil {
			rows.Close()
			return translate(err)
		}
		t.written = max(t.written, t.created)
		if t.name == l.staging {
			mine = t
		} else {
			others = append(others, t)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return translate(err)
	}
	if mine.name == "" {
		return schema.Errorf(schema.Conflict, "network %s: this load's staging table %s is gone: another load took it for a dead one's", l.network, l.staging)
	}
	for _, t := range others {
		if int64(now)-int64(t.written) >= int64(LoadStale/time.Second) || ownerGone(t.name) {
			if err := l.s.conn.Exec(ctx, "DROP TABLE IF EXISTS "+t.name); err != nil {
				return translate(fmt.Errorf("drop a dead load's staging table: %w", err))
			}
		} else if t.before(mine) {
			last := time.Unix(int64(t.written), 0)
			return schema.Wrap(schema.Conflict, fmt.Sprintf("network %s: staging table %s, last written %s: "+
				"wait for it to end; should it have died, a load after %s takes over", l.network, t.name,
				last.UTC().Format(time.DateTime), last.Add(LoadStale).UTC().Format(time.DateTime)), ErrLoadRunning)
		}
	}
	return nil
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
	if err := l.recoverHourly(ctx, n); err != nil {
		return err
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
	if err := l.claim(ctx); err != nil {
		return err
	}
	ids, err := l.stagedPartitions(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := l.s.conn.Exec(ctx, "ALTER TABLE observations ATTACH PARTITION ID '"+id+"' FROM "+l.staging); err != nil {
			return translate(fmt.Errorf("attach %s: %w", id, err))
		}
	}
	// The rollup's states of the rows just attached, which its view never
	// saw; a death before this is repaired by the next run (recoverHourly).
	if err := l.s.conn.Exec(ctx, "INSERT INTO observations_hourly "+hourlySelect+" FROM "+l.staging+hourlyGroup); err != nil {
		return translate(fmt.Errorf("rollup of the attached month: %w", err))
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
	return l.s.partitions(ctx, l.staging)
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
