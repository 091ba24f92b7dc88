package gateway

import (
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
// no cache keeps it.
func (g *Gateway) partialManifest(ctx *fasthttp.RequestCtx, rec *schema.JobRecord) error {
	var parts []int
	for i, word := range rec.PartsDone {
		for bit := range 64 {
			if word&(1<<bit) != 0 {
				parts = append(parts, i*64+bit+1)
			}
		}
	}
	infos := make([]partInfo, len(parts))
	errs := make([]error, len(parts))
	sem := make(chan struct{}, infoFetchers)
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			infos[i], errs[i] = g.partInfo(ctx, rec.Job.Ticket, part)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
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

// withQuery adds a parameter to a URL that may have a query already.
func withQuery(u, param string) string {
	if strings.Contains(u, "?") {
		return u + "&" + param
	}
	return u + "?" + param
}
