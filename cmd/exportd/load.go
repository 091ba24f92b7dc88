package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/plenario-next/exportd/aot"
	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// loadReport is what `exportd load` prints: --json prints it as is.
type loadReport struct {
	Network     string           `json:"network"`
	Path        string           `json:"path"`
	Lines       int64            `json:"lines"`
	Loaded      int64            `json:"loaded"`
	Skipped     map[string]int64 `json:"skipped"`
	LoadedUntil string           `json:"loaded_until"` // every reading before it is stored
	Recovered   bool             `json:"recovered"`    // an interrupted earlier load's last month was found and kept
	Seconds     float64          `json:"seconds"`
	LinesPerSec float64          `json:"lines_per_s"`
}

// networkNameRE is what a network given to load may be called: a name
// that sits in a URL path as it is.
var networkNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// skipCauses orders the causes in the text report.
var skipCauses = []string{"malformed", "already_loaded", "unknown_node", "unknown_sensor", "na", "not_numeric", "duplicate", "out_of_order"}

func newLoadReport(network, path string, c aot.Counts, st chstore.LoadStats, took time.Duration) loadReport {
	r := loadReport{Network: network, Path: path, Lines: c.Lines, Loaded: st.Rows, Seconds: took.Seconds(),
		LoadedUntil: st.Until.Format(schema.DatetimeLayout),
		Skipped: map[string]int64{"malformed": c.Malformed, "already_loaded": c.Before + st.Before, "unknown_node": c.UnknownNode,
			"unknown_sensor": c.UnknownSensor, "na": c.NA, "not_numeric": c.NotNumeric, "duplicate": c.Duplicate, "out_of_order": st.OutOfOrder}}
	if took > 0 {
		r.LinesPerSec = float64(c.Lines) / took.Seconds()
	}
	return r
}

func (r loadReport) print(w io.Writer) {
	var skipped int64
	for _, n := range r.Skipped {
		skipped += n
	}
	fmt.Fprintf(w, "loaded %d readings of %d lines into %s in %.1fs (%.0f lines/s); every reading before %s is stored\n",
		r.Loaded, r.Lines, r.Network, r.Seconds, r.LinesPerSec, r.LoadedUntil)
	fmt.Fprintf(w, "skipped %d:", skipped)
	for i, c := range skipCauses {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(w, "%s %s %d", sep, c, r.Skipped[c])
	}
	fmt.Fprintln(w)
}

// load is `exportd load [--network NAME] [--json] PATH`.
func load(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("exportd load", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: exportd load [--network NAME] [--json] PATH\n\nPATH: a digest directory, a .tar of one ('-': on standard input), or a data.csv.gz with nodes.csv and sensors.csv beside it.")
		fs.PrintDefaults()
	}
	addr, db := getenv("EXPORTD_CLICKHOUSE_ADDR"), getenv("EXPORTD_CLICKHOUSE_DB")
	if addr == "" {
		addr = chstore.DefaultAddr
	}
	fs.StringVar(&addr, "clickhouse", addr, "ClickHouse native protocol address ($EXPORTD_CLICKHOUSE_ADDR)")
	fs.StringVar(&db, "clickhouse-db", db, "ClickHouse database ($EXPORTD_CLICKHOUSE_DB)")
	network := fs.String("network", "", "network to load into (default: from provenance.csv's project_id, AoT_Chicago.complete → aot_chicago)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	batch := fs.Int("batch-rows", chstore.DefaultLoadBatchRows, "rows per insert")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("load: want one PATH")
	}
	if *network != "" && !networkNameRE.MatchString(*network) {
		return fmt.Errorf("load: bad --network %q: letters, digits, '_' and '-' only", *network)
	}
	store, err := chstore.Open(ctx, chstore.Config{Addr: addr, Database: db})
	if err != nil {
		return fmt.Errorf("clickhouse at %s: %w", addr, err)
	}
	defer store.Close()
	progress := func(until time.Time, rows int64) {
		if !*asJSON {
			fmt.Fprintf(stdout, "… %d readings stored, up to %s\n", rows, until.Format(schema.DatetimeLayout))
		}
	}
	r, err := loadDigest(ctx, store, fs.Arg(0), *network, *batch, progress)
	if err != nil && r.Network != "" { // stopped while storing: what is stored stays
		stored := "no reading is stored yet"
		if !strings.HasPrefix(r.LoadedUntil, "1970-") {
			stored = "every reading before " + r.LoadedUntil + " is stored"
		}
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("load of %s interrupted: %s; run the same load again to go on", r.Network, stored)
		}
		return fmt.Errorf("load of %s stopped: %w; %s; load the whole digest again to go on", r.Network, err, stored)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	r.print(stdout)
	return nil
}

// loadDigest loads the digest at path into network (the digest's own when
// empty): metadata first, then the observations past the checkpoint, then
// the sensors each node turned out to carry.
func loadDigest(ctx context.Context, store *chstore.Store, path, network string, batchRows int,
	progress func(time.Time, int64)) (loadReport, error) {
	start := time.Now()
	d, err := aot.Open(path)
	if err != nil {
		return loadReport{}, err
	}
	if network == "" {
		if network, err = d.DefaultNetwork(); err != nil {
			return loadReport{}, err
		}
	}
	data, err := d.Data()
	if err != nil {
		return loadReport{}, err
	}
	defer data.Close()
	ld, err := store.BeginLoad(ctx, network, d.Project)
	if err != nil {
		return loadReport{}, err
	}
	defer func() { _ = ld.Close(context.WithoutCancel(ctx)) }()
	ld.BatchRows, ld.OnCommit = batchRows, progress
	n := d.Network(network)
	if old, err := store.Network(ctx, network); err == nil {
		addNodeSensors(n, nodeSensors(old))
	}
	if err := store.SaveNetwork(ctx, n); err != nil {
		return loadReport{}, err
	}
	data.From = ld.LoadedUntil().Unix()
	st, err := ld.Run(ctx, data)
	// What was stored is stored: the nodes' sensors follow it even when the
	// run stopped early.
	if addNodeSensors(n, data.NodeSensors()) {
		if serr := store.SaveNetwork(context.WithoutCancel(ctx), n); err == nil {
			err = serr
		}
	}
	r := newLoadReport(network, path, data.Counts(), st, time.Since(start))
	r.Recovered = ld.Recovered
	return r, err
}

func nodeSensors(n *schema.Network) map[string][]string {
	out := map[string][]string{}
	for _, x := range n.Nodes {
		out[x.ID] = x.Sensors
	}
	return out
}

// addNodeSensors adds sensors to n's nodes, reporting whether any was new.
func addNodeSensors(n *schema.Network, sensors map[string][]string) bool {
	changed := false
	for i := range n.Nodes {
		x := &n.Nodes[i]
		for _, s := range sensors[x.ID] {
			if !slices.Contains(x.Sensors, s) {
				x.Sensors = append(x.Sensors, s)
				changed = true
			}
		}
		slices.Sort(x.Sensors)
	}
	return changed
}

// loadAtStart is serve's EXPORTD_LOAD: the digest is loaded unless its
// network has data and its last load finished; an interrupted one resumes.
// While another load of the network runs (another replica's, or one that
// died and is not yet stale) it waits and tries again, so that the digest
// is loaded once, and loaded.
func loadAtStart(ctx context.Context, store *chstore.Store, path string, logger *slog.Logger) error {
	for {
		err := loadOnceAtStart(ctx, store, path, logger)
		if !errors.Is(err, chstore.ErrLoadRunning) {
			return err
		}
		logger.Info("digest load waits for another load", "path", path, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(loadRetry):
		}
	}
}

// loadRetry is how often serve looks again whether another load ended.
const loadRetry = 30 * time.Second

func loadOnceAtStart(ctx context.Context, store *chstore.Store, path string, logger *slog.Logger) error {
	d, err := aot.Open(path)
	if err != nil {
		return fmt.Errorf("EXPORTD_LOAD: %w", err)
	}
	network, err := d.DefaultNetwork()
	if err != nil {
		return fmt.Errorf("EXPORTD_LOAD: %w", err)
	}
	has, err := store.HasData(ctx, network)
	if err != nil {
		return err
	}
	st, found, err := store.LoadState(ctx, network)
	if err != nil {
		return err
	}
	if has && (!found || st.Finished) {
		logger.Info("digest already loaded", "network", network, "path", path, "loaded_until", st.LoadedUntil)
		return nil
	}
	logger.Info("loading digest", "network", network, "path", path)
	r, err := loadDigest(ctx, store, path, network, chstore.DefaultLoadBatchRows, func(until time.Time, rows int64) {
		logger.Info("digest loading", "network", network, "rows", rows, "loaded_until", until)
	})
	if err != nil {
		return fmt.Errorf("EXPORTD_LOAD %s: %w", path, err)
	}
	logger.Info("digest loaded", "network", network, "lines", r.Lines, "loaded", r.Loaded, "skipped", r.Skipped, "seconds", r.Seconds)
	return nil
}
