package chstore

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/plenario-next/exportd/schema"
)

var partitionIDRE = regexp.MustCompile(`^[0-9]{6}$`)

// RowSource is a stream of rows ordered by time, such as aot.Reader.
type RowSource interface {
	Next(*schema.Row) bool
	Err() error
}

// LoadStats says what a Run stored.
type LoadStats struct {
	Rows int64 `json:"rows"` // stored
	// Before is rows older than the checkpoint (a source that does not skip
	// them itself); OutOfOrder is rows of a month this run had attached
	// already. Neither is stored.
	Before     int64     `json:"before"`
	OutOfOrder int64     `json:"out_of_order"`
	Months     int       `json:"months"` // partitions attached
	Until      time.Time `json:"loaded_until"`
}

// loadBatch is the columns of one insert.
type loadBatch struct {
	network, node, sensor, feature, property []string
	ts                                       []int64
	value                                    []float64
}

func newLoadBatch(n int) *loadBatch {
	return &loadBatch{network: make([]string, 0, n), node: make([]string, 0, n), sensor: make([]string, 0, n),
		feature: make([]string, 0, n), property: make([]string, 0, n), ts: make([]int64, 0, n), value: make([]float64, 0, n)}
}

func (b *loadBatch) reset() {
	b.network, b.node, b.sensor, b.feature, b.property = b.network[:0], b.node[:0], b.sensor[:0], b.feature[:0], b.property[:0]
	b.ts, b.value = b.ts[:0], b.value[:0]
}

// loadMsg is the sender's work: a batch to insert, or the month to commit.
type loadMsg struct {
	batch    *loadBatch
	until    int64
	finished bool
	rows     int64 // stored so far, for OnCommit
}

// Run stores src's rows. The calling goroutine reads the source and fills
// batches; another inserts them, so that parsing and sending overlap. Three
// batches circulate: memory is flat whatever the source's size. On an error
// (the source's too) the rows of the month being loaded are dropped with
// staging, and the months attached stay, recorded: a rerun resumes.
func (l *Load) Run(ctx context.Context, src RowSource) (LoadStats, error) {
	batchRows := l.BatchRows
	if batchRows <= 0 {
		batchRows = DefaultLoadBatchRows
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan loadMsg, 2)
	free := make(chan *loadBatch, 3)
	for range cap(free) {
		free <- newLoadBatch(batchRows)
	}
	sent := make(chan error, 1)
	go func() { sent <- l.send(ctx, cancel, work, free) }()

	st, err := l.produce(ctx, src, batchRows, work, free)
	close(work)
	if serr := <-sent; serr != nil {
		err = serr // the sender's error is the cause; produce saw a cancelled context
	}
	st.Until = l.LoadedUntil()
	if err == nil {
		err = ctx.Err()
	}
	return st, err
}

// produce reads src into batches and sends them, a commit at the end of
// every month.
func (l *Load) produce(ctx context.Context, src RowSource, batchRows int, work chan<- loadMsg, free chan *loadBatch) (LoadStats, error) {
	var st LoadStats
	b := <-free
	emit := func(m loadMsg) error {
		if err := ctx.Err(); err != nil {
			return err // select would pick at random between a free slot and Done
		}
		select {
		case work <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var monthStart, monthEnd, newest int64
	open := false // a month is being staged
	var row schema.Row
	for src.Next(&row) {
		ts := row.TS.Unix()
		switch {
		case ts < l.until:
			st.Before++
			continue
		case !open || ts >= monthEnd:
			if open {
				if err := emit(loadMsg{batch: b}); err != nil {
					return st, err
				}
				if err := emit(loadMsg{until: newest + 1, rows: st.Rows}); err != nil {
					return st, err
				}
				st.Months++
				b = <-free
			}
			monthStart, monthEnd = monthBounds(ts, l.loc)
			open, newest = true, ts
		case ts < monthStart:
			st.OutOfOrder++
			continue
		}
		newest = max(newest, ts)
		b.network = append(b.network, l.network)
		b.node, b.ts, b.sensor = append(b.node, row.Node), append(b.ts, ts), append(b.sensor, row.Sensor)
		b.feature, b.property, b.value = append(b.feature, row.Feature), append(b.property, row.Property), append(b.value, row.Value)
		st.Rows++
		if len(b.ts) == batchRows {
			if err := emit(loadMsg{batch: b}); err != nil {
				return st, err
			}
			select {
			case b = <-free:
			case <-ctx.Done():
				return st, ctx.Err()
			}
		}
	}
	if err := src.Err(); err != nil {
		return st, err
	}
	if open {
		if err := emit(loadMsg{batch: b}); err != nil {
			return st, err
		}
		st.Months++
		return st, emit(loadMsg{until: newest + 1, finished: true, rows: st.Rows})
	}
	return st, emit(loadMsg{until: l.until, finished: true})
}

// send inserts and commits what produce sends, in order. A month is one
// INSERT, each batch a block of it (Flush): the driver's columns are reused,
// and ClickHouse squashes the blocks into parts of a million rows
// (min_insert_block_size_rows), so a small batch costs no extra parts. After
// an error it only hands batches back, so produce never blocks.
func (l *Load) send(ctx context.Context, cancel context.CancelFunc, work <-chan loadMsg, free chan<- *loadBatch) error {
	var err error
	var ins driver.Batch // the month's INSERT, once it has a block
	for m := range work {
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			switch {
			case m.batch != nil:
				ins, err = l.insert(ctx, ins, m.batch)
			default:
				if ins != nil {
					err = translate(ins.Send())
					ins = nil
				}
				if err == nil {
					err = l.commit(ctx, m.until, m.finished)
				}
				if err == nil && l.OnCommit != nil {
					l.OnCommit(l.LoadedUntil(), m.rows)
				}
			}
			if err != nil {
				cancel()
			}
		}
		if m.batch != nil {
			m.batch.reset()
			free <- m.batch
		}
	}
	if ins != nil {
		_ = ins.Abort()
	}
	return err
}

// insert sends one batch as a block of the month's INSERT into staging,
// starting it when ins is nil.
func (l *Load) insert(ctx context.Context, ins driver.Batch, b *loadBatch) (driver.Batch, error) {
	if len(b.ts) == 0 {
		return ins, nil
	}
	if ins == nil {
		var err error
		ins, err = l.s.conn.PrepareBatch(ctx, "INSERT INTO "+l.staging+" (network, node_id, ts, sensor, feature, property, value)")
		if err != nil {
			return nil, translate(err)
		}
	}
	for i, c := range []any{b.network, b.node, b.ts, b.sensor, b.feature, b.property, b.value} {
		if err := ins.Column(i).Append(c); err != nil {
			return ins, translate(err)
		}
	}
	if err := ins.Flush(); err != nil {
		return ins, translate(fmt.Errorf("load insert: %w", err))
	}
	return ins, nil
}

// monthBounds is the month holding ts in loc, as Unix seconds [start, end).
func monthBounds(ts int64, loc *time.Location) (int64, int64) {
	y, m, _ := time.Unix(ts, 0).In(loc).Date()
	start := time.Date(y, m, 1, 0, 0, 0, 0, loc)
	return start.Unix(), start.AddDate(0, 1, 0).Unix()
}
