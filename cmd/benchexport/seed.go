package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// seedEnd is the time of the last seeded observation: fixed, so that the
// window of the data is known and a database seeded earlier is reused.
var seedEnd = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seedSpan is how far back chstore.Seed spreads the rows from seedEnd.
const seedSpan = 6 * 24 * time.Hour

// window is a slice of the seeded data: the query parameters of a
// download and the rows it holds.
type window struct {
	Start, End time.Time
	Rows       int64
	DataType   string // the job's format; "": the default
}

func (w window) values() url.Values { return windowValues(w) }

// query resolves w as the gateway does for a download.
func (w window) query(n *schema.Network) (schema.Query, error) {
	return schema.ParseQuery(schema.Download, w.values(), n, time.Now())
}

// ensureSeeded makes the bench database hold exactly cfg.Rows rows of the
// demo network in w, seeding it when it does not, and returns the count.
func ensureSeeded(ctx context.Context, cfg config, n *schema.Network, w window) (int64, error) {
	store, err := chstore.Open(ctx, chstore.Config{Addr: cfg.ClickHouse, Database: cfg.DB})
	if err != nil {
		return 0, fmt.Errorf("clickhouse at %s: %w", cfg.ClickHouse, err)
	}
	defer func() { store.Close() }()
	q, err := w.query(n)
	if err != nil {
		return 0, err
	}
	have, err := store.Count(ctx, &q)
	if err != nil {
		return 0, err
	}
	if have == cfg.Rows {
		if _, err := store.Network(ctx, cfg.Network); err == nil {
			logf("reusing %d rows of %s in database %s", have, cfg.Network, cfg.DB)
			return have, nil
		}
	}
	if have > 0 {
		logf("database %s holds %d rows, not %d: dropping it", cfg.DB, have, cfg.Rows)
		if err := store.DropDatabase(ctx); err != nil {
			return 0, err
		}
		store.Close()
		if store, err = chstore.Open(ctx, chstore.Config{Addr: cfg.ClickHouse, Database: cfg.DB}); err != nil {
			return 0, err
		}
	}
	logf("seeding %d rows of %s into database %s (once; later runs reuse them)", cfg.Rows, cfg.Network, cfg.DB)
	start := time.Now()
	if err := store.Seed(ctx, n, cfg.Rows, seedEnd); err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	if have, err = store.Count(ctx, &q); err != nil {
		return 0, err
	}
	logf("seeded %d rows in %s", have, time.Since(start).Round(time.Second))
	if have != cfg.Rows {
		return 0, fmt.Errorf("seeded %d rows but the window holds %d", cfg.Rows, have)
	}
	return have, nil
}
