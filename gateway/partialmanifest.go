package gateway

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// partialManifest serves the manifest of a running job, as FHIR Bulk Data
// has it: the parts stored so far, each with its rows, bytes and SHA-256
// (and its offset in the CSV download once every part before it is stored
// too, -1 until then), "complete": false and the job's status. Its totals
// are those of the parts listed; its outputs are the followed downloads,
// which serve the file as it is made. It changes with every stored part:
// no HTTP cache keeps it, but the parts' infos are kept (storedParts).
func (g *Gateway) partialManifest(ctx *fasthttp.RequestCtx, rec *schema.JobRecord) error {
	var parts []int
	for i, word := range rec.PartsDone {
		for bit := range 64 {
			if word&(1<<bit) != 0 {
				parts = append(parts, i*64+bit+1)
			}
		}
	}
	infos, err := g.storedInfos(ctx, rec.Job.Ticket, parts)
	if err != nil {
		return err
	}
	m := buildManifest(rec, g.expanded(ctx, rec.Job.Request.Query), nil)
	m.Complete, m.Status = false, rec.Job.Status.Status
	m.TransactionTime = g.Now().UTC().Format(time.RFC3339)
	// The CSV laid out as far as every part is stored: parts 1 to k.
	var stored []partInfo
	for i, p := range parts {
		if p != i+1 {
			break
		}
		stored = append(stored, infos[i])
	}
	csv := textLayout(schema.FormatCSV, rec, stored)
	for i, in := range infos {
		p := parts[i]
		mp := schema.ManifestPart{Part: p, Rows: in.rows, Bytes: in.text.CSV, Offset: -1, SHA256: in.sha256}
		if i < len(stored) {
			mp.Offset = csv.PartOffset(i)
		}
		if p-1 < len(rec.Plan) && rec.Plan[p-1].Part == p {
			mp.From = rec.Plan[p-1].From.UTC().Format(time.RFC3339)
			mp.To = rec.Plan[p-1].To.UTC().Format(time.RFC3339)
		}
		if in.parquet.Size >= 0 {
			mp.Parquet = &schema.ManifestFile{Bytes: in.parquet.Size, SHA256: in.parquetSHA256}
		}
		m.Parts = append(m.Parts, mp)
		m.Rows += in.rows
		m.Bytes += in.text.CSV
	}
	for i := range m.Output {
		o := &m.Output[i]
		o.Count, o.Ranges = m.Rows, false
		o.URL = withQuery(o.URL, "follow=true")
	}
	writeJSON(ctx, m)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Retry-After", "1")
	return nil
}

// storedInfos returns the infos of ticket's stored parts, in the order
// given: those kept from an earlier request, the others asked for at
// once (infoFetchers at a time) and kept.
func (g *Gateway) storedInfos(ctx context.Context, ticket string, parts []int) ([]partInfo, error) {
	infos := make([]partInfo, len(parts))
	errs := make([]error, len(parts))
	sem := make(chan struct{}, infoFetchers)
	var wg sync.WaitGroup
	for i, part := range parts {
		if in, ok := g.partial.get(ticket, part); ok {
			infos[i] = in
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			infos[i], errs[i] = g.partInfo(ctx, ticket, part)
			if errs[i] == nil {
				g.partial.put(ticket, part, infos[i])
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return infos, nil
}

// DefaultPartialBytes is about how much memory storedParts may hold: some
// 40 000 parts of CSV jobs, fewer of Parquet ones (a part's footer is
// kept with it).
const DefaultPartialBytes = 16 << 20

// storedParts keeps the infos of running jobs' stored parts, by ticket and
// part. A part does not change after its part_done, so the manifest of a
// running job, polled by every client that waits for it, asks the store
// only for the parts stored since it was last asked, not for every part
// each time (BenchmarkPartialManifest). A part announced is never stored
// again: its metadata is published only if no whole part is there (the
// commit is conditional, first writer wins, events.PartWriter), so an
// exporter that stores a part another delivery stored whole first (its
// process died before its ack, or stalled past the ack wait, even inside
// its Close) keeps that object and drops its own read, and what is kept
// here is what the complete manifest, followers and downloads read
// (internal/faults TestExporterDiesBeforeAck, TestExporterStalledPastAckWait:
// the slice read again held rows loaded since, and replaced the part the
// first part_done announced; events TestPartFirstWriterWins). A job's
// entries are dropped when its manifest is asked for after it has ended
// (the complete manifest reads the store afresh, into partCache); when the
// budget is spent, another job's entries go, whichever. The zero value
// holds up to DefaultPartialBytes.
type storedParts struct {
	mu    sync.Mutex
	max   int // bytes; 0: DefaultPartialBytes, < 0: keep nothing
	bytes int
	jobs  map[string]map[int]partInfo
}

// infoBytes is about what an entry costs: the info, its strings, its
// footer, its place in the map.
func infoBytes(in partInfo) int {
	return 256 + len(in.sha256) + len(in.parquetSHA256) + len(in.parquet.Footer)
}

func (c *storedParts) get(ticket string, part int) (partInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := c.jobs[ticket][part]
	return in, ok
}

func (c *storedParts) put(ticket string, part int, in partInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.max
	if limit == 0 {
		limit = DefaultPartialBytes
	}
	cost := infoBytes(in)
	for c.bytes+cost > limit {
		victim := ""
		for t := range c.jobs {
			if t != ticket {
				victim = t
				break
			}
		}
		if victim == "" {
			return // this job alone fills the budget: its later parts are asked for each time
		}
		c.dropLocked(victim)
	}
	if c.jobs == nil {
		c.jobs = map[string]map[int]partInfo{}
	}
	job := c.jobs[ticket]
	if job == nil {
		job = map[int]partInfo{}
		c.jobs[ticket] = job
	}
	if old, ok := job[part]; ok {
		c.bytes -= infoBytes(old)
	}
	job[part] = in
	c.bytes += cost
}

// drop forgets ticket's parts.
func (c *storedParts) drop(ticket string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(ticket)
}

func (c *storedParts) dropLocked(ticket string) {
	for _, in := range c.jobs[ticket] {
		c.bytes -= infoBytes(in)
	}
	delete(c.jobs, ticket)
}

// withQuery adds a parameter to a URL that may have a query already.
func withQuery(u, param string) string {
	if strings.Contains(u, "?") {
		return u + "&" + param
	}
	return u + "?" + param
}
