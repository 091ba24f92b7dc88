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
// Idempotency-Key, or the normalised request (lists sorted, defaulted times
// left out so that a repeat a minute later is still the same request).
func fingerprint(ctx *fasthttp.RequestCtx, q schema.Query) string {
	h := sha256.New()
	h.Write([]byte(clientID(ctx)))
	h.Write([]byte{0})
	if k := ctx.Request.Header.Peek("Idempotency-Key"); len(k) > 0 {
		h.Write([]byte("key\x00"))
		h.Write(k)
	} else {
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
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}
