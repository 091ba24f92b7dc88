package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/plenario-next/exportd/chstore"
)

// seed loads the demo network: `exportd seed --rows N --network NAME`.
func seed(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("exportd seed", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := getenv("EXPORTD_CLICKHOUSE_ADDR")
	if addr == "" {
		addr = chstore.DefaultAddr
	}
	db := getenv("EXPORTD_CLICKHOUSE_DB")
	fs.StringVar(&addr, "clickhouse", addr, "ClickHouse native protocol address ($EXPORTD_CLICKHOUSE_ADDR)")
	fs.StringVar(&db, "clickhouse-db", db, "ClickHouse database ($EXPORTD_CLICKHOUSE_DB)")
	rows := fs.Int64("rows", 1_000_000, "observations to load")
	network := fs.String("network", "array_of_things", "network name")
	endS := fs.String("end", "", "time of the last observation, RFC 3339 (default now)")
	replace := fs.Bool("replace", false, "delete the network's observations first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	end := time.Now().UTC()
	if *endS != "" {
		t, err := time.Parse(time.RFC3339, *endS)
		if err != nil {
			return fmt.Errorf("bad --end: %w", err)
		}
		end = t
	}
	store, err := chstore.Open(ctx, chstore.Config{Addr: addr, Database: db})
	if err != nil {
		return err
	}
	defer store.Close()
	if *replace {
		if err := store.DeleteNetworkData(ctx, *network); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := store.Seed(ctx, chstore.DemoNetwork(*network), *rows, end); err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "seeded %d rows of %s in %s (%.0f rows/s)\n", *rows, *network, took.Round(time.Millisecond), float64(*rows)/took.Seconds())
	return nil
}
