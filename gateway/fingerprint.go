package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// fingerprint identifies a request for idempotent submission: the caller's
// Idempotency-Key, or the normalised request (see requestDigest).
func fingerprint(ctx *fasthttp.RequestCtx, q schema.Query) string {
	h := sha256.New()
	h.Write([]byte(clientID(ctx)))
	h.Write([]byte{0})
	if k := ctx.Request.Header.Peek("Idempotency-Key"); len(k) > 0 {
		h.Write([]byte("key\x00"))
		h.Write(k)
	} else {
		h.Write(normalized(ctx, q))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// requestDigest is what a request under an Idempotency-Key is held to: its
// normalised form's digest, "" without a key. A repeat of the key with
// another request is refused, as the IETF's Idempotency-Key draft asks
// (422), rather than answered with the first request's job, which a client
// reusing a key by mistake would take for the rows it asked for.
func requestDigest(ctx *fasthttp.RequestCtx, q schema.Query) string {
	if len(ctx.Request.Header.Peek("Idempotency-Key")) == 0 {
		return ""
	}
	sum := sha256.Sum256(normalized(ctx, q))
	return hex.EncodeToString(sum[:16])
}

// normalized is the request as idempotency sees it: lists sorted, defaulted
// times left out so that a repeat a minute later is still the same request.
func normalized(ctx *fasthttp.RequestCtx, q schema.Query) []byte {
	norm := struct {
		Network                  string
		Features, Nodes, Sensors []string
		Geom                     json.RawMessage
		Start, End, DataType     string
		Filter                   *schema.Filter `json:",omitempty"`
		Limit, Offset            int            `json:",omitempty"`
		Capped                   bool           `json:",omitempty"`
	}{Network: q.Network, Geom: q.Geom, DataType: q.DataType, Filter: q.Filter, Limit: q.Limit, Offset: q.Offset, Capped: q.Capped()}
	for _, f := range q.Features {
		norm.Features = append(norm.Features, f.String())
	}
	if !q.AllNodes {
		norm.Nodes = append(norm.Nodes, q.Nodes...)
	}
	if !q.AllSensors {
		norm.Sensors = append(norm.Sensors, q.Sensors...)
	}
	sort.Strings(norm.Features)
	sort.Strings(norm.Nodes)
	sort.Strings(norm.Sensors)
	a := ctx.QueryArgs()
	if a.Has("start_datetime") {
		norm.Start = q.Start.Format(schema.DatetimeLayout)
	}
	if a.Has("end_datetime") {
		norm.End = q.End.Format(schema.DatetimeLayout)
	}
	b, _ := json.Marshal(norm)
	return b
}
