package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// bucketSQL is the start of each time bucket as Unix seconds, in UTC
// whatever the server's time zone: minutes, hours and days by arithmetic,
// weeks (from Monday), months and years from the Date functions, whose
// day numbers count from the epoch.
var bucketSQL = map[string]string{
	"minute": "toUInt64(intDiv(toUInt32(ts), 60) * 60)",
	"hour":   "toUInt64(intDiv(toUInt32(ts), 3600) * 3600)",
	"day":    "toUInt64(intDiv(toUInt32(ts), 86400) * 86400)",
	"week":   "toUInt64(toUInt32(toMonday(ts, 'UTC')) * 86400)",
	"month":  "toUInt64(toUInt32(toStartOfMonth(ts, 'UTC')) * 86400)",
	"year":   "toUInt64(toUInt32(toStartOfYear(ts, 'UTC')) * 86400)",
}

// functionSQL is each of Plenario's functions in ClickHouse, all of them on
// 18.16: std and var are the sample statistics Postgres' stddev and
// variance were, by Welford's method (the plain varSamp sums squares and
// gave three equal readings a variance of -2e-13, a standard deviation of
// NaN); one value has none (Inf, answered as null). The median is exact
// and takes the mean of the two middle values, as Postgres' did
// (ClickHouse's median samples).
var functionSQL = map[string]string{
	"avg": "avg(value)",
	"std": "stddevSampStable(value)",
	"var": "varSampStable(value)",
	"min": "min(value)",
	"max": "max(value)",
	"med": "(arraySort(groupArray(value))[intDiv(count() + 1, 2)] + arraySort(groupArray(value))[intDiv(count(), 2) + 1]) / 2",
}

// Aggregate answers /aggregate: q's function of each property's values in
// each time bucket, ordered by bucket and property; buckets without values
// are left out (schema.FillBuckets adds them). Its query is bounded as
// /query's are (see bounded and WithTimeLimit).
func (s *Store) Aggregate(ctx context.Context, q *schema.AggregateQuery) ([]schema.AggregateValue, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	out, err := s.aggregate(ctx, q)
	return out, limited(ctx, err)
}

func (s *Store) aggregate(ctx context.Context, q *schema.AggregateQuery) ([]schema.AggregateValue, error) {
	bucket, ok1 := bucketSQL[q.Unit]
	fn, ok2 := functionSQL[q.Function]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("chstore: aggregate of %q by %q", q.Function, q.Unit)
	}
	cond := "network = ? AND ts >= toDateTime(?) AND ts < toDateTime(?) AND node_id = ? AND feature = ? AND property IN ?"
	args := []any{q.Network, uint32(q.Start.Unix()), uint32(q.End.Unix()), q.Node, q.Feature.Feature, set(q.Properties)}
	if q.Sensors != nil {
		cond += " AND sensor IN ?"
		args = append(args, set(q.Sensors))
	}
	rows, err := s.conn.Query(freshID(ctx), "SELECT "+bucket+" AS b, property, "+fn+" AS v, count() AS n FROM observations WHERE "+cond+
		" GROUP BY b, property ORDER BY b, property", args...)
	if err != nil {
		return nil, translate(fmt.Errorf("aggregate: %w", err))
	}
	defer rows.Close()
	out := []schema.AggregateValue{}
	for rows.Next() {
		var v schema.AggregateValue
		var b uint64
		if err := rows.Scan(&b, &v.Property, &v.Value, &v.Count); err != nil {
			return nil, translate(err)
		}
		v.Bucket = time.Unix(int64(b), 0).UTC()
		out = append(out, v)
	}
	return out, translate(rows.Err())
}
