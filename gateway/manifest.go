package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// partInfo is what the object store says of one stored part.
type partInfo struct {
	rows          int64
	sha256        string          // of its CSV, lowercase hex
	text          result.TextPart // its sizes as CSV, JSON and NDJSON
	parquet       result.ParquetPart
	parquetSHA256 string
}

// storedParquet reports whether every part has its Parquet file stored.
func storedParquet(infos []partInfo) bool {
	for _, in := range infos {
		if in.parquet.Size < 0 {
			return false
		}
	}
	return true
}

// textLayout lays out rec's file as format (CSV, JSON or NDJSON) from its
// parts' infos.
func textLayout(format string, rec *schema.JobRecord, infos []partInfo) *result.Layout {
	parts := make([]result.TextPart, len(infos))
	for i, in := range infos {
		parts[i] = in.text
	}
	return result.TextLayout(format, parts, result.Tail(format, rec.Job.Status.Meta))
}

// maxCachedJobs bounds the part-info cache; past it, an arbitrary entry goes.
const maxCachedJobs = 1024

// infoFetchers is how many part infos are asked for at once.
const infoFetchers = 16

// partCache keeps the part infos of succeeded jobs: they never change once
// a job has succeeded, and a manifest or a ranged read of a job with
// thousands of parts would otherwise ask the object store once per part.
// The zero value is ready.
type partCache struct {
	mu sync.Mutex
	m  map[string][]partInfo
}

func (c *partCache) get(ticket string) ([]partInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[ticket]
	return p, ok
}

func (c *partCache) put(ticket string, p []partInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]partInfo{}
	}
	if len(c.m) >= maxCachedJobs {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[ticket] = p
}

// partInfos returns the infos of a succeeded job's parts, in part order.
func (g *Gateway) partInfos(ctx context.Context, rec *schema.JobRecord) ([]partInfo, error) {
	ticket := rec.Job.Ticket
	if p, ok := g.parts.get(ticket); ok {
		return p, nil
	}
	n := 0
	if rec.Job.Status.Progress != nil {
		n = rec.Job.Status.Progress.Total
	}
	out := make([]partInfo, n)
	errs := make([]error, n)
	sem := make(chan struct{}, infoFetchers)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = g.partInfo(ctx, ticket, i+1)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	g.parts.put(ticket, out)
	return out, nil
}

func (g *Gateway) partInfo(ctx context.Context, ticket string, part int) (partInfo, error) {
	sp, err := g.bus.Part(ctx, ticket, part)
	if err != nil {
		return partInfo{}, err
	}
	return partInfo{rows: sp.Rows, sha256: sp.SHA256, text: result.TextPart{CSV: sp.Bytes, JSON: sp.JSON, Observations: sp.Observations},
		parquet: result.ParquetPart{Size: sp.Parquet, Footer: []byte(sp.ParquetFooter)}, parquetSHA256: sp.ParquetSHA256}, nil
}

// manifestURL is where a job's manifest is served.
func manifestURL(rec *schema.JobRecord) string {
	return rec.URLRoot + "v1/api/jobs/" + rec.Job.Ticket + "/manifest"
}

// document is the job document as served: the projected document, with the
// lists of its query that records leave out (schema.Query.Compact) put back
// from the network's metadata, and once the job has succeeded a link to its
// manifest in result.manifest. The link is the gateway's to add since it
// names a gateway route; the document in the KV stays a pure fold of the
// events.
func (g *Gateway) document(ctx context.Context, rec *schema.JobRecord) schema.Job {
	job := rec.Job
	job.Request.Query = g.expanded(ctx, job.Request.Query)
	if job.Status.Status != schema.StatusSuccess {
		return job
	}
	// The result is a JobResult when folded here, a JSON object when read
	// back from the KV.
	switch res := job.Result.(type) {
	case schema.JobResult:
		job.Result = struct {
			schema.JobResult
			Manifest string `json:"manifest"`
		}{res, manifestURL(rec)}
	case map[string]any:
		out := make(map[string]any, len(res)+1)
		for k, v := range res {
			out[k] = v
		}
		out["manifest"] = manifestURL(rec)
		job.Result = out
	}
	return job
}

// expanded is q with the lists a record leaves out put back from the
// network's metadata (as stored, when the metadata cannot be read).
func (g *Gateway) expanded(ctx context.Context, q schema.Query) schema.Query {
	if q.AllNodes || q.AllSensors || q.AllFeatures {
		if n, err := g.network(ctx, q.Network); err == nil {
			q.Expand(n)
		}
	}
	return q
}

// manifest serves a succeeded job's manifest.
func (g *Gateway) manifest(ctx *fasthttp.RequestCtx, p []string) error {
	ticket := p[0]
	if ctx.QueryArgs().Len() > 0 {
		pr := schema.Problems{}
		ctx.QueryArgs().VisitAll(func(k, _ []byte) { pr.Add(string(k), schema.MsgNotAFilter) })
		return pr.Err()
	}
	rec, err := g.job(ctx, ticket)
	if err != nil {
		return err
	}
	if rec.Job.Status.Status == schema.StatusProcessing {
		return g.partialManifest(ctx, rec) // partialmanifest.go
	}
	g.partial.drop(ticket) // the running job's parts, kept for its partial manifests
	if err := notDownloadable(ctx, rec); err != nil {
		return err
	}
	infos, err := g.partInfos(ctx, rec)
	if err != nil {
		return err
	}
	writeJSON(ctx, buildManifest(rec, g.expanded(ctx, rec.Job.Request.Query), infos))
	ctx.Response.Header.Set("Cache-Control", cacheControl(rec, g.Now()))
	if exp, ok := expiresAt(rec); ok {
		ctx.Response.Header.Set("Expires", httpDate(exp))
	}
	return nil
}

// notDownloadable returns the error for a job that has no result (yet).
func notDownloadable(ctx *fasthttp.RequestCtx, rec *schema.JobRecord) error {
	st := rec.Job.Status.Status
	if st == schema.StatusSuccess {
		return nil
	}
	if !rec.Terminal() {
		ctx.Response.Header.Set("Retry-After", "1")
		return schema.Errorf(schema.Conflict, "Job is %s, not success: its result is not ready yet.", st)
	}
	return schema.Errorf(schema.Conflict, "Job is %s, not success: it has no result.", st)
}

// buildManifest describes rec's result; q is its query as documents show it.
func buildManifest(rec *schema.JobRecord, q schema.Query, infos []partInfo) schema.Manifest {
	hsum := sha256.Sum256([]byte(schema.CSVHeader))
	m := schema.Manifest{
		Ticket:          rec.Job.Ticket,
		Complete:        true,
		Status:          rec.Job.Status.Status,
		TransactionTime: rec.Finished.UTC().Format(time.RFC3339),
		Request:         requestURL(rec.URLRoot, q),
		Query:           q,
		Header:          schema.ManifestHeader{Bytes: int64(len(schema.CSVHeader)), SHA256: hex.EncodeToString(hsum[:])},
		Parts:           make([]schema.ManifestPart, len(infos)),
		Error:           []schema.ManifestOutput{},
	}
	if exp, ok := expiresAt(rec); ok {
		m.Expires = exp.Format(time.RFC3339)
	}
	csv := textLayout(schema.FormatCSV, rec, infos)
	for i, in := range infos {
		mp := schema.ManifestPart{Part: i + 1, Rows: in.rows, Bytes: in.text.CSV, Offset: csv.PartOffset(i), SHA256: in.sha256}
		if i < len(rec.Plan) && rec.Plan[i].Part == i+1 {
			mp.From = rec.Plan[i].From.UTC().Format(time.RFC3339)
			mp.To = rec.Plan[i].To.UTC().Format(time.RFC3339)
		}
		if in.parquet.Size >= 0 {
			mp.Parquet = &schema.ManifestFile{Bytes: in.parquet.Size, SHA256: in.parquetSHA256}
		}
		m.Parts[i] = mp
		m.Rows += in.rows
	}
	m.Bytes = csv.Size()
	dump := rec.URLRoot + "v1/api/datadump/" + rec.Job.Ticket
	for _, f := range []string{schema.FormatCSV, schema.FormatJSON, schema.FormatNDJSON, schema.FormatParquet} {
		u := dump + "?data_type=" + f // by name: with none, a download is JSON
		m.Output = append(m.Output, schema.ManifestOutput{Type: "observation", Format: f, MediaType: schema.MediaType(f),
			URL: u, Count: m.Rows, Ranges: f == schema.FormatParquet && storedParquet(infos) ||
				f != schema.FormatParquet && textLayout(f, rec, infos).Size() >= 0})
	}
	return m
}

// requestURL is the /download request that asks for q again.
func requestURL(root string, q schema.Query) string {
	v := url.Values{}
	if !q.AllFeatures {
		fs := make([]string, len(q.Features))
		for i, f := range q.Features {
			fs[i] = f.String()
		}
		v.Set("features", strings.Join(fs, ","))
	}
	if !q.AllNodes {
		v.Set("nodes", strings.Join(q.Nodes, ","))
	}
	if !q.AllSensors {
		v.Set("sensors", strings.Join(q.Sensors, ","))
	}
	if len(q.Geom) > 0 {
		v.Set("geom", string(q.Geom))
	}
	v.Set("start_datetime", q.Start.UTC().Format(schema.DatetimeLayout))
	v.Set("end_datetime", q.End.UTC().Format(schema.DatetimeLayout))
	if q.Capped() {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	if q.Filter != nil {
		if b, err := json.Marshal(q.Filter); err == nil {
			v.Set("filter", string(b))
		}
	}
	return root + "v1/api/sensor-networks/" + url.PathEscape(q.Network) + "/download?" + v.Encode()
}

// expiresAt is when a job's result may be removed, if the job says.
func expiresAt(rec *schema.JobRecord) (time.Time, bool) {
	s := rec.Job.Status.Meta.ExpiresAt
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(schema.MetaTimeLayout, s, time.UTC)
	return t.UTC(), err == nil
}

// cacheControl lets caches keep a result until it expires: it never
// changes before then.
func cacheControl(rec *schema.JobRecord, now time.Time) string {
	exp, ok := expiresAt(rec)
	if !ok {
		return "private, no-cache"
	}
	age := int64(exp.Sub(now) / time.Second)
	if age < 0 {
		age = 0
	}
	return "private, max-age=" + strconv.FormatInt(age, 10)
}

// httpDate formats t as HTTP wants dates: "Mon, 02 Jan 2006 15:04:05 GMT".
func httpDate(t time.Time) string {
	return string(fasthttp.AppendHTTPDate(nil, t.UTC()))
}
