package chstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/plenario-next/exportd/schema"
)

// where builds the WHERE clause of q restricted to [from, to), with every
// value a bound parameter.
func where(q *schema.Query, from, to time.Time) (string, []any) {
	var b strings.Builder
	args := []any{q.Network, uint32(from.Unix()), uint32(to.Unix())}
	b.WriteString("network = ? AND ts >= toDateTime(?) AND ts < toDateTime(?)")
	if !q.AllNodes {
		b.WriteString(" AND node_id IN ?")
		args = append(args, set(q.Nodes))
	}
	if !q.AllSensors {
		b.WriteString(" AND sensor IN ?")
		args = append(args, set(q.Sensors))
	}
	var whole []string
	var props []schema.FeatureSel
	for _, f := range q.Features {
		if f.Property == "" {
			whole = append(whole, f.Feature)
		} else {
			props = append(props, f)
		}
	}
	if !q.AllFeatures || len(props) > 0 {
		var or []string
		if len(whole) > 0 {
			or = append(or, "feature IN ?")
			args = append(args, set(whole))
		}
		for _, p := range props {
			or = append(or, "(feature = ? AND property = ?)")
			args = append(args, p.Feature, p.Property)
		}
		if len(or) == 0 {
			or = append(or, "0")
		}
		b.WriteString(" AND (" + strings.Join(or, " OR ") + ")")
	}
	return b.String(), args
}

func set(s []string) clickhouse.GroupSet {
	v := make([]any, len(s))
	for i, x := range s {
		v[i] = x
	}
	return clickhouse.GroupSet{Value: v}
}

// ExportOrder is the order of rows in an export: by time, and the values of
// one reading next to each other.
const ExportOrder = "ts, node_id, sensor, feature, property"

// ExportSQL is the SELECT an export of q's [from, to) slice runs, with its
// parameters: the benchmark runs the same text through clickhouse-client.
func ExportSQL(q *schema.Query, from, to time.Time) (string, []any) {
	w, args := where(q, from, to)
	return "SELECT node_id, ts, sensor, feature, property, value FROM observations WHERE " + w + " ORDER BY " + ExportOrder, args
}

// RowIter reads an export slice row by row; no more than a driver block is
// held in memory.
type RowIter struct {
	rows driver.Rows
	err  error
	row  schema.Row
	dest []any // pointers into row, made once: Scan's arguments would escape per row
}

// OpenRows starts reading the rows of q within [from, to) in export order.
func (s *Store) OpenRows(ctx context.Context, q *schema.Query, from, to time.Time) (*RowIter, error) {
	query, args := ExportSQL(q, from, to)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(fmt.Errorf("export query: %w", err))
	}
	it := &RowIter{rows: rows}
	it.dest = []any{&it.row.Node, &it.row.TS, &it.row.Sensor, &it.row.Feature, &it.row.Property, &it.row.Value}
	return it, nil
}

// Next reads the next row into r; false at the end or on an error (see Err).
func (it *RowIter) Next(r *schema.Row) bool {
	if it.err != nil || !it.rows.Next() {
		return false
	}
	if err := it.rows.Scan(it.dest...); err != nil {
		it.err = translate(fmt.Errorf("scan: %w", err))
		return false
	}
	*r = it.row
	return true
}

// Err is the error that ended the iteration, if any.
func (it *RowIter) Err() error {
	if it.err != nil {
		return it.err
	}
	return translate(it.rows.Err())
}

// Close releases the query.
func (it *RowIter) Close() error { return it.rows.Close() }

// Rows streams the rows of q within [from, to) in export order to fn. The
// Row passed to fn is reused.
func (s *Store) Rows(ctx context.Context, q *schema.Query, from, to time.Time, fn func(*schema.Row) error) error {
	it, err := s.OpenRows(ctx, q, from, to)
	if err != nil {
		return err
	}
	defer it.Close()
	var r schema.Row
	for it.Next(&r) {
		if err := fn(&r); err != nil {
			return err
		}
	}
	return it.Err()
}

// Bucket is one bar of a row-count histogram over time.
type Bucket struct {
	From time.Time
	Rows int64
}

// Histogram counts q's rows in buckets of step, for planning partitions.
// Empty buckets are left out.
func (s *Store) Histogram(ctx context.Context, q *schema.Query, step time.Duration) ([]Bucket, error) {
	sec := uint32(step / time.Second)
	if sec < 1 {
		sec = 1
	}
	w, args := where(q, q.Start, q.End)
	rows, err := s.conn.Query(ctx, "SELECT intDiv(toUInt32(ts), ?) * ? AS b, count() FROM observations WHERE "+w+" GROUP BY b ORDER BY b",
		append([]any{sec, sec}, args...)...)
	if err != nil {
		return nil, translate(fmt.Errorf("histogram: %w", err))
	}
	defer rows.Close()
	var out []Bucket
	for rows.Next() {
		var b uint64
		var n uint64
		if err := rows.Scan(&b, &n); err != nil {
			return nil, translate(err)
		}
		out = append(out, Bucket{From: time.Unix(int64(b), 0).UTC(), Rows: int64(n)})
	}
	return out, translate(rows.Err())
}

// Count returns how many rows q selects.
func (s *Store) Count(ctx context.Context, q *schema.Query) (int64, error) {
	w, args := where(q, q.Start, q.End)
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM observations WHERE "+w, args...).Scan(&n); err != nil {
		return 0, translate(err)
	}
	return int64(n), nil
}

// firstWindow is the slice of time the raw query tries first: the newest
// observations are found without grouping and sorting the whole week.
const firstWindow = 10 * time.Minute

// Observations answers /query: q's readings newest first, the properties of
// one reading grouped, q.Offset skipped and at most q.Limit returned. It
// looks in a short window at the end of the range first and widens it only
// when that holds too few readings.
func (s *Store) Observations(ctx context.Context, q *schema.Query) ([]schema.Observation, error) {
	need := q.Offset + q.Limit
	window := firstWindow
	for {
		from := q.End.Add(-window)
		full := !from.After(q.Start)
		if full {
			from = q.Start
		}
		obs, err := s.readings(ctx, q, from, q.End, need)
		if err != nil {
			return nil, err
		}
		if len(obs) >= need || full {
			if q.Offset >= len(obs) {
				return []schema.Observation{}, nil
			}
			return obs[q.Offset:], nil
		}
		// Widen to where the density seen says enough readings are, with a
		// margin; blindly when none were seen.
		if len(obs) > 0 {
			window = time.Duration(float64(window) * 1.5 * float64(need) / float64(len(obs)))
		} else {
			window *= 8
		}
	}
}

func (s *Store) readings(ctx context.Context, q *schema.Query, from, to time.Time, limit int) ([]schema.Observation, error) {
	w, args := where(q, from, to)
	rows, err := s.conn.Query(ctx, "SELECT node_id, ts, sensor, feature, groupArray(property), groupArray(value) FROM observations WHERE "+w+
		" GROUP BY node_id, ts, sensor, feature ORDER BY ts DESC, node_id, sensor, feature LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, translate(fmt.Errorf("raw query: %w", err))
	}
	defer rows.Close()
	out := []schema.Observation{}
	for rows.Next() {
		var o schema.Observation
		var ts time.Time
		var props []string
		var vals []float64
		if err := rows.Scan(&o.Node, &ts, &o.Sensor, &o.Feature, &props, &vals); err != nil {
			return nil, translate(err)
		}
		o.Datetime = ts.UTC().Format(schema.DatetimeLayout)
		o.Results = make(map[string]float64, len(props))
		for i, p := range props {
			o.Results[p] = vals[i]
		}
		out = append(out, o)
	}
	return out, translate(rows.Err())
}
