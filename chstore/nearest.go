package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// Nearest answers /nearest: of nodes (nearest first), the first that has a
// reading of q's feature within schema.NearestWindow of q.Datetime, and
// that reading, the one closest in time (the earlier of two as close),
// shaped as /query shapes them. No reading is a nil Observation. One
// query finds each node's closest time, a second reads the reading. Its
// queries are bounded as /query's are (see bounded and WithTimeLimit).
func (s *Store) Nearest(ctx context.Context, q *schema.NearestQuery, nodes []string) (*schema.Observation, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	obs, err := s.nearest(ctx, q, nodes)
	return obs, limited(ctx, err)
}

func (s *Store) nearest(ctx context.Context, q *schema.NearestQuery, nodes []string) (*schema.Observation, error) {
	if len(nodes) == 0 {
		return nil, nil
	}
	rq := schema.Query{Network: q.Network, Features: []schema.FeatureSel{q.Feature}, Nodes: nodes, AllSensors: true}
	from, to := q.Datetime.Add(-schema.NearestWindow), q.Datetime.Add(schema.NearestWindow+time.Second)
	if epoch := time.Unix(0, 0).UTC(); from.Before(epoch) {
		from = epoch
	}
	w, args := where(&rq, from, to)
	at := q.Datetime.Unix()
	rows, err := s.conn.Query(freshID(ctx), "SELECT node_id, toUInt32(argMin(ts, abs(toInt64(ts) - ?) * 2 + (toInt64(ts) > ?))) FROM observations WHERE "+w+
		" GROUP BY node_id", append([]any{at, at}, args...)...)
	if err != nil {
		return nil, translate(fmt.Errorf("nearest: %w", err))
	}
	closest := map[string]uint32{}
	for rows.Next() {
		var node string
		var ts uint32
		if err := rows.Scan(&node, &ts); err != nil {
			rows.Close()
			return nil, translate(err)
		}
		closest[node] = ts
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	for _, node := range nodes {
		ts, ok := closest[node]
		if !ok {
			continue
		}
		rq.Nodes = []string{node}
		t := time.Unix(int64(ts), 0).UTC()
		obs, _, err := s.readings(ctx, &rq, t, t.Add(time.Second), 0, 1)
		if err != nil || len(obs) == 0 {
			return nil, err
		}
		return &obs[0], nil
	}
	return nil, nil
}
