package chstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/schema"
)

// where builds the WHERE clause of q restricted to [from, to), with every
// value a bound parameter. A query without a filter gets exactly the
// clause it got before filters existed.
func where(q *schema.Query, from, to time.Time) (string, []any) {
	w, args := selection(q, "ts >= toDateTime(?) AND ts < toDateTime(?)", uint32(from.Unix()), uint32(to.Unix()))
	if q.Filter != nil {
		return filterWhere(q, from, to, w, args)
	}
	return w, args
}

// selection is the WHERE clause of q's network, nodes, sensors and
// features with the time condition cond (its parameters targs), without
// q's filter.
func selection(q *schema.Query, cond string, targs ...any) (string, []any) {
	var b strings.Builder
	args := append([]any{q.Network}, targs...)
	b.WriteString("network = ? AND " + cond)
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
	return ExportSliceSQL(q, from, to, 0, 0)
}

// ExportSliceSQL is ExportSQL of the rows of the slice past the first skip,
// take of them at most (0: all): a part of a download with a limit or an
// offset.
func ExportSliceSQL(q *schema.Query, from, to time.Time, skip, take int64) (string, []any) {
	var sql string
	var args []any
	if grouped(q) {
		g, gargs := groupedSQL(q, from, to, true)
		sql, args = "SELECT node_id, ts, sensor, feature, property, value FROM ("+g+") ARRAY JOIN ps AS property, vs AS value ORDER BY "+ExportOrder, gargs
	} else {
		w, wargs := where(q, from, to)
		sql, args = "SELECT node_id, ts, sensor, feature, property, value FROM observations WHERE "+w+" ORDER BY "+ExportOrder, wargs
	}
	if take > 0 {
		sql += " LIMIT ?, ?"
		args = append(args, skip, take)
	}
	return sql, args
}

// Bucket is one bar of a row-count histogram over time.
type Bucket struct {
	From time.Time
	Rows int64
}

// Histogram counts q's rows in buckets of step, for planning partitions.
// Empty buckets are left out.
func (s *Store) Histogram(ctx context.Context, q *schema.Query, step time.Duration) ([]Bucket, error) {
	return s.HistogramIn(ctx, q, q.Start, q.End, step)
}

// HistogramIn is Histogram of the rows of q in [from, to) only.
func (s *Store) HistogramIn(ctx context.Context, q *schema.Query, from, to time.Time, step time.Duration) ([]Bucket, error) {
	sec := uint32(step / time.Second)
	if sec < 1 {
		sec = 1
	}
	sql, args := "", []any{sec, sec}
	if grouped(q) {
		g, gargs := groupedSQL(q, from, to, false)
		sql, args = "SELECT intDiv(toUInt32(ts), ?) * ? AS b, sum(n) FROM ("+g+") GROUP BY b ORDER BY b", append(args, gargs...)
	} else {
		w, wargs := where(q, from, to)
		sql, args = "SELECT intDiv(toUInt32(ts), ?) * ? AS b, count() FROM observations WHERE "+w+" GROUP BY b ORDER BY b", append(args, wargs...)
	}
	rows, err := s.conn.Query(ctx, sql, args...)
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
	var sql string
	var args []any
	if grouped(q) {
		g, gargs := groupedSQL(q, q.Start, q.End, false)
		sql, args = "SELECT sum(n) FROM ("+g+")", gargs
	} else {
		w, wargs := where(q, q.Start, q.End)
		sql, args = "SELECT count() FROM observations WHERE "+w, wargs
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return 0, translate(err)
	}
	return int64(n), nil
}

// firstWindow is the slice of time the raw query tries first: the newest
// observations are found without sorting the whole week. Grouping costs in
// proportion to the rows in the window, so it starts small: on 20 million
// demo rows five minutes already hold 3000 temperature readings, and for a
// sparse filter the next slices are sized from what the first ones found.
const firstWindow = 5 * time.Minute

// Observations answers /query: q's readings newest first, the properties of
// one reading grouped, q.Offset skipped and at most q.Limit returned. It
// reads a short slice at the end of the range first, then older slices
// until the page is full: every reading of a slice is newer than any of the
// next, so the pages of the slices together are the page of the range, and
// the range is read once however little of it matches. Offset and limit
// count readings, (node, second, sensor, feature): a reading with a
// property twice is served as two observations (schema.AppendReading), and
// a page never splits one. Each slice is sized
// from the density of readings seen so far. ClickHouse skips the offset, so
// a deep page costs a sort, not a transfer of every reading before it. Its
// queries are bounded (see bounded and WithTimeLimit).
func (s *Store) Observations(ctx context.Context, q *schema.Query) ([]schema.Observation, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	out, err := s.observations(ctx, q)
	return out, limited(ctx, err)
}

func (s *Store) observations(ctx context.Context, q *schema.Query) ([]schema.Observation, error) {
	out := []schema.Observation{}
	offset, limit := q.Offset, q.Limit
	found := 0 // readings in the slices read so far
	span := q.End.Sub(q.Start)
	to, window := q.End, min(firstWindow, span)
	for limit > 0 && to.After(q.Start) {
		from := q.End.Add(-window)
		obs, n, err := s.readings(ctx, q, from, to, offset, limit)
		if err != nil {
			return nil, err
		}
		switch {
		case n > 0: // the slice held offset+n readings
			out = append(out, obs...)
			found += offset + n
			offset, limit = 0, limit-n
		case offset > 0: // the slice held at most offset readings: skip them
			n, err := s.countReadings(ctx, q, from, to)
			if err != nil {
				return nil, err
			}
			found += n
			offset -= n
		}
		to, window = from, nextWindow(window, span, found, offset+limit)
	}
	return out, nil
}

// nextWindow is how far back from the end of the range the next slice
// reaches, given that window held found readings and need more are wanted:
// a quarter more than the density so far predicts, at least half again, at
// most 8 times window, or 64 times once the density rests on enough
// readings to be trusted; never past span, the whole range.
func nextWindow(window, span time.Duration, found, need int) time.Duration {
	grow := 8.0
	if found >= 16 {
		grow = 64
	}
	if found > 0 {
		grow = min(max(1+1.25*float64(need)/float64(found), 1.5), grow)
	}
	if w := float64(window) * grow; w < float64(span) {
		return time.Duration(w)
	}
	return span
}

// countReadings counts q's readings within [from, to).
func (s *Store) countReadings(ctx context.Context, q *schema.Query, from, to time.Time) (int, error) {
	w, args := where(q, from, to)
	sql := "SELECT count() FROM (SELECT 1 FROM observations WHERE " + w + " GROUP BY node_id, ts, sensor, feature)"
	if grouped(q) {
		g, gargs := groupedSQL(q, from, to, false)
		sql, args = "SELECT count() FROM ("+g+") WHERE n > 0", gargs
	}
	var n uint64
	if err := s.conn.QueryRow(freshID(ctx), sql, args...).Scan(&n); err != nil {
		return 0, translate(fmt.Errorf("raw query count: %w", err))
	}
	return int(n), nil
}

// readings returns the observations of q's readings within [from, to),
// offset and limit applied, and how many readings they are.
func (s *Store) readings(ctx context.Context, q *schema.Query, from, to time.Time, offset, limit int) ([]schema.Observation, int, error) {
	w, args := where(q, from, to)
	sql := "SELECT node_id, ts, sensor, feature, groupArray(property), groupArray(value) FROM observations WHERE " + w +
		" GROUP BY node_id, ts, sensor, feature"
	if grouped(q) { // one pass: see groupedSQL
		g, gargs := groupedSQL(q, from, to, true)
		sql, args = "SELECT node_id, ts, sensor, feature, ps, vs FROM ("+g+") WHERE notEmpty(ps)", gargs
	}
	rows, err := s.conn.Query(freshID(ctx), sql+" ORDER BY ts DESC, node_id, sensor, feature LIMIT ?, ?", append(args, offset, limit)...)
	if err != nil {
		return nil, 0, translate(fmt.Errorf("raw query: %w", err))
	}
	defer rows.Close()
	out, n := []schema.Observation{}, 0
	for rows.Next() {
		var o schema.Observation
		var ts time.Time
		var props []string
		var vals []float64
		if err := rows.Scan(&o.Node, &ts, &o.Sensor, &o.Feature, &props, &vals); err != nil {
			return nil, 0, translate(err)
		}
		o.Datetime = ts.UTC().Format(schema.DatetimeLayout)
		out = schema.AppendReading(out, o, props, vals)
		n++
	}
	return out, n, translate(rows.Err())
}
