package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/schema"
)

// Planner takes accepted requests (queued events), plans them into parts
// and queues the parts. Planning the same request twice, after a crash,
// queues the same parts: the plan of the first started event is reused.
type Planner struct {
	bus    *events.Bus
	store  *chstore.Store
	logger *slog.Logger
	meta   metaCache

	Name     string // shown in meta.workers
	PartRows int64
	MaxParts int
	// Workers: plans begun at once (each a ClickHouse query and a few
	// NATS round trips); for windows under 68 minutes, histogram queries
	// at once, each counting all such windows waiting (secondsHistogram).
	Workers int
	// A plan that runs past StepAside no longer counts among the Workers:
	// the next request's plan begins beside it, up to MaxPlans in all
	// (StepAside 0: a plan counts until it ends).
	StepAside time.Duration
	MaxPlans  int
	// ShortPlans: plans of windows under 68 minutes at once (MaxPlans
	// bounds the others): the more of them wait for a slot together, the
	// fewer ClickHouse queries count their histograms.
	ShortPlans int
	// ExpressParts: the parts of a job of at most this many go to the
	// express lane; 0: none do.
	ExpressParts int

	hold    func(context.Context, schema.Event) // tests: called as a plan begins
	begun   chan struct{}                       // a slot for each of the Workers
	long    chan struct{}                       // a slot for each of MaxPlans
	batches secondsBatches                      // short windows' histograms waiting for a slot
}

// DefaultExpressParts is the most parts of a job that goes to the express
// lane: a job of up to four parts (a million rows by default) is not
// queued behind the bulk parts of big jobs. Big jobs send none there, not
// even their first parts: a burst of big jobs would then queue as many
// parts ahead of a small one.
const DefaultExpressParts = 4

// DefaultPlanners is how many requests a planner begins to plan at once
// (a plan past DefaultStepAside no longer counts): planning is
// mostly waiting on ClickHouse and NATS, so a burst of small requests is
// planned side by side rather than one after another. Two, not more: each
// plan is a ClickHouse query of about 2 ms of its CPU whatever its size,
// and on a small machine more planners took the cores that accept
// requests (a 5 s burst: 3 400 tickets/s with 4, 3 700 with 2; the burst
// drained at about the same rate, bound by ClickHouse).
const DefaultPlanners = 2

// DefaultStepAside is how long a plan runs before the next one may begin
// beside it. A whole-table plan of 20 M rows held its planner worker for
// 0.6-1.9 s of ClickHouse (2 cores, loaded), so six of them made a
// one-node, one-hour job wait 5 s for its plan of 0.14 s (0.05 s of it
// ClickHouse's): a small job's plan is then begun after at most this long,
// while a burst of small requests is still planned two at a time. 500 ms,
// not 200: under a burst of tickets small plans slowed by the load ran
// past 200 ms and stepped aside too, and the plans in flight took the
// cores that accept requests. Measured with the bench's fair and load
// phases (2026-12-01 18:25-18:34, one run each, load average 3-5): two
// planners and no stepping aside, 5 507 tickets/s; 200 ms and at most 16
// plans, fair 0.34-0.73 s but 4 036-4 044 tickets/s; 200 ms and 8, 0.27 s
// and 4 791; 500 ms and 8, 0.52 s and 5 117.
const DefaultStepAside = 500 * time.Millisecond

// DefaultMaxPlans bounds the plans in flight of windows not short
// (ShortPlans), long ones included: each is a ClickHouse query, and a
// request past it waits as before. Eight: the bench's six whole-table
// plans and a small one fit; 16 let a burst's plans take the gateway's CPU
// (see DefaultStepAside), when each of them was a query.
const DefaultMaxPlans = 8

// DefaultShortPlans is how many plans of short windows run at once. 32,
// not 8 (the bound of all plans before): in make bench's load phase (2 M
// rows, load 5-13) a histogram query then counted 2.2 windows on average
// and a ticket cost 2.5-2.8 ms of CPU over burst and drain, at 32 1.4-1.8.
// After a crash, each request held waits out the ack wait.
const DefaultShortPlans = 32

// NewPlanner returns a Planner.
func NewPlanner(bus *events.Bus, store *chstore.Store, logger *slog.Logger) *Planner {
	return &Planner{bus: bus, store: store, logger: logger, Name: "planner", PartRows: DefaultPartRows, MaxParts: DefaultMaxParts,
		Workers: DefaultPlanners, StepAside: DefaultStepAside, MaxPlans: DefaultMaxPlans, ShortPlans: DefaultShortPlans,
		ExpressParts: DefaultExpressParts}
}

// Run plans requests until ctx is done.
func (p *Planner) Run(ctx context.Context) error {
	p.begun = make(chan struct{}, max(p.Workers, 1))
	p.long = make(chan struct{}, max(p.MaxPlans, p.Workers, 1))
	return p.bus.Consume(ctx, events.EventStream, events.PlannerName,
		events.ConsumeOptions{Workers: max(p.MaxPlans, p.Workers, p.ShortPlans, 1), Unordered: true}, p.logger, p.handle)
}

// begin waits for one of the Workers' slots; the release it returns gives
// the slot back, and is called by itself after StepAside. false: ctx ended.
func (p *Planner) begin(ctx context.Context) (release func(), ok bool) {
	select {
	case p.begun <- struct{}{}:
	case <-ctx.Done():
		return nil, false
	}
	give := sync.OnceFunc(func() { <-p.begun })
	if p.StepAside <= 0 {
		return give, true
	}
	t := time.AfterFunc(p.StepAside, give)
	return func() { t.Stop(); give() }, true
}

// beginLong is begin for a plan that is not short: it waits first for
// one of MaxPlans's slots, given back by the release too.
func (p *Planner) beginLong(ctx context.Context) (release func(), ok bool) {
	select {
	case p.long <- struct{}{}:
	case <-ctx.Done():
		return nil, false
	}
	r, ok := p.begin(ctx)
	if !ok {
		<-p.long
		return nil, false
	}
	return func() { r(); <-p.long }, true
}

func (p *Planner) handle(ctx context.Context, m *events.Delivery) {
	e, err := m.Event()
	if err != nil || e.Request == nil {
		p.logger.Error("planner: dropping bad request", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	log := p.logger.With("ticket", e.Ticket)
	if exhausted(ctx, p.bus, m, e.Ticket, "planning", log) {
		return
	}
	stop := make(chan struct{})
	go func() { // planning a big request takes a while: stay alive
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = m.InProgress()
			}
		}
	}()
	// A short window's plan takes a slot only for its histogram's query,
	// which it shares with the others waiting (secondsHistogram).
	release, ok := func() {}, true
	if _, short := secondsKey(&e.Request.Query); !short {
		release, ok = p.beginLong(ctx)
	}
	if !ok {
		close(stop)
		_ = m.Nak() // shutting down: another process takes it at once
		return
	}
	first := m.Delivered() == 1
	err = rideOut(ctx, m, p.bus.Config.OutageTolerance, p.bus.Config.PartAckWait, log, func() error {
		err := p.plan(ctx, e, first)
		first = false // a started event may be stored now: a retry reuses its plan
		return err
	})
	release()
	close(stop)
	settle(ctx, p.bus, m, e.Ticket, err, log)
}

// plan plans e's request and queues its parts. On a first delivery there
// can be no earlier plan: only a redelivery looks for one.
func (p *Planner) plan(ctx context.Context, e schema.Event, first bool) error {
	if p.hold != nil {
		p.hold(ctx, e)
	}
	q := e.Request.Query
	var plan []schema.PartSpec
	var ids schema.MetaIDs
	if !first {
		if rec, _, err := p.bus.Job(ctx, e.Ticket); err == nil && rec.Terminal() {
			return nil // cancelled before it started
		}
		var err error
		if plan, ids, err = p.existingPlan(ctx, e.Ticket); err != nil {
			return err
		}
	}
	if plan == nil {
		var hist []chstore.Bucket
		var over bool
		var err error
		if ids, hist, over, err = p.survey(ctx, e.Ticket, &q); err != nil || over {
			return err
		}
		if q.Paged() {
			plan = PagedPlan(&q, hist, p.PartRows, p.MaxParts)
		} else {
			plan = Plan(q.Start, q.End, hist, p.PartRows, p.MaxParts)
		}
		var est int64
		for _, s := range plan {
			est += s.Estimate
		}
		if _, err := p.bus.Publish(ctx, schema.Event{Kind: schema.EventStarted, Ticket: e.Ticket, Plan: plan,
			Parts: len(plan), Estimate: est, Worker: p.Name, MetaIDs: ids}); err != nil {
			return err
		}
	}
	lane := events.Bulk
	if len(plan) <= p.ExpressParts {
		lane = events.Express
	}
	tasks := make([]schema.PartTask, len(plan))
	for i, s := range plan {
		tasks[i] = schema.PartTask{Ticket: e.Ticket, Parts: len(plan), Spec: s, Query: q, MetaIDs: ids}
	}
	return p.bus.QueueParts(ctx, tasks, lane)
}

// survey asks at once what a plan needs: whether the job was cancelled
// before it started (over), its nodes' meta_ids and its rows' histogram.
// Why at once: one after the other, the job document's read, the
// network's metadata (three ClickHouse queries whenever the planner's copy
// is older than metaTTL, as it is for the first job after a pause) and the
// histogram were each a round trip on the way of every job, small or
// big, to its first part.
func (p *Planner) survey(ctx context.Context, ticket string, q *schema.Query) (ids schema.MetaIDs, hist []chstore.Bucket, over bool, err error) {
	var idsErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		if rec, _, err := p.bus.Job(ctx, ticket); err == nil && rec.Terminal() {
			over = true
		}
	})
	wg.Go(func() { ids, idsErr = p.metaIDs(ctx, q) })
	hist, err = p.histogram(ctx, q)
	wg.Wait()
	if over {
		return nil, nil, true, nil
	}
	if idsErr != nil {
		return nil, nil, false, idsErr
	}
	return ids, hist, false, err
}

// histogram counts q's rows in time buckets, fine enough to cut the job
// into even parts. Buckets are 1/2048 of the window, so a window much wider
// than its data ("everything since 2000") puts all the rows into a bucket
// or two and would make one part of millions of rows: then the span that
// holds rows is counted again in buckets of its own size.
func (p *Planner) histogram(ctx context.Context, q *schema.Query) ([]chstore.Bucket, error) {
	if key, short := secondsKey(q); short {
		return p.secondsHistogram(ctx, key, q) // one-second buckets: never too coarse
	}
	step := planStep(q.Start, q.End)
	hist, err := p.store.Histogram(ctx, q, step)
	if err != nil || !p.tooCoarse(hist, step) {
		return hist, err
	}
	from, to := hist[0].From, hist[len(hist)-1].From.Add(step)
	if from.Before(q.Start) {
		from = q.Start
	}
	if to.After(q.End) {
		to = q.End
	}
	return p.store.HistogramIn(ctx, q, from, to, planStep(from, to))
}

// tooCoarse reports whether hist has too few buckets to cut its rows into
// even parts (four buckets a part at least), and finer ones can be had.
// A job of one part is not counted again.
func (p *Planner) tooCoarse(hist []chstore.Bucket, step time.Duration) bool {
	if step <= time.Second {
		return false
	}
	var total int64
	for _, b := range hist {
		total += b.Rows
	}
	parts := partsFor(total, p.PartRows, p.MaxParts)
	return parts > 1 && len(hist) < 4*parts // one part needs no cut
}

// existingPlan returns the plan and meta_ids of ticket's started event, if
// it has one.
func (p *Planner) existingPlan(ctx context.Context, ticket string) ([]schema.PartSpec, schema.MetaIDs, error) {
	started, ok, err := p.bus.LastEvent(ctx, ticket, schema.EventStarted)
	if err != nil || !ok {
		return nil, nil, err
	}
	if started.Plan == nil {
		return []schema.PartSpec{}, started.MetaIDs, nil
	}
	return started.Plan, started.MetaIDs, nil
}

// settle acks, retries or gives up on a message after handling it, by the
// error's code, the one schema.ErrorCode that also decides the gateway's
// HTTP status: invalid, not found and full are final, the rest is retried
// with a growing delay until MaxDeliver (an outage past its tolerance is
// final too). Giving up fails the job with a reason a user can read.
func settle(ctx context.Context, bus *events.Bus, m *events.Delivery, ticket string, err error, log *slog.Logger) {
	if err == nil {
		if err := m.Ack(ctx); err != nil {
			log.Warn("ack", "err", err)
		}
		return
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		_ = m.Nak() // shutting down: another process takes it at once
		return
	}
	delivered := max(m.Delivered(), 1)
	code := schema.ErrorCode(err)
	reason, outage := outageReason(err)
	final := code == schema.Invalid || code == schema.NotFound || code == schema.Full || outage ||
		delivered >= uint64(bus.Config.MaxDeliver)
	if !final {
		delay := time.Duration(1<<min(delivered-1, 5)) * time.Second
		log.Warn("will retry", "err", err, "delivered", delivered, "delay", delay)
		_ = m.NakWithDelay(delay)
		return
	}
	if !outage {
		reason = publicReason(err)
	}
	log.Error("giving up", "err", err, "delivered", delivered)
	if _, perr := bus.Publish(ctx, schema.Event{Kind: schema.EventFailed, Ticket: ticket, Error: reason}); perr != nil {
		_ = m.NakWithDelay(time.Second) // the failure must be recorded
		return
	}
	_ = m.Term()
}

// exhausted fails the job of a message delivered more than MaxDeliver
// times: its handlers died (or timed out) on every attempt, so settle never
// ran. It reports whether it did.
func exhausted(ctx context.Context, bus *events.Bus, m *events.Delivery, ticket, what string, log *slog.Logger) bool {
	delivered := m.Delivered()
	if delivered <= uint64(bus.Config.MaxDeliver) {
		return false
	}
	reason := fmt.Sprintf("%s did not complete in %d attempts", what, bus.Config.MaxDeliver)
	log.Error("giving up", "reason", reason, "delivered", delivered)
	if _, err := bus.Publish(ctx, schema.Event{Kind: schema.EventFailed, Ticket: ticket, Error: reason}); err != nil {
		_ = m.NakWithDelay(time.Second)
		return true
	}
	_ = m.Term()
	return true
}

// publicReason is the result.error a user reads: what went wrong, without
// internals.
func publicReason(err error) string {
	var e *schema.Error
	if errors.As(err, &e) && e.Message != "" {
		if e.Code == schema.Unavailable {
			return e.Message + "; gave up after repeated attempts"
		}
		return e.Message
	}
	return "internal error"
}
