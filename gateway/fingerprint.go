package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"

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
	norm := normRequest{Network: q.Network, Geom: q.Geom, DataType: q.DataType, Filter: q.Filter, Limit: q.Limit,
		Offset: q.Offset, Capped: q.Capped()}
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
	return norm.json()
}

// normRequest is what normalized hashes, as json.Marshal writes it: the
// digests of requests accepted before a restart must stay the same.
type normRequest struct {
	Network                  string
	Features, Nodes, Sensors []string
	Geom                     json.RawMessage
	Start, End, DataType     string
	Filter                   *schema.Filter `json:",omitempty"`
	Limit, Offset            int            `json:",omitempty"`
	Capped                   bool           `json:",omitempty"`
}

// json writes n as json.Marshal does. Without a geometry or a filter (the
// client's JSON, which json.Marshal compacts and escapes) it writes it
// itself: json.Marshal's reflection was 5 % of the gateway's CPU in the
// ticket burst's profile, where every request carries a key and so a digest.
func (n *normRequest) json() []byte {
	if len(n.Geom) > 0 || n.Filter != nil {
		b, _ := json.Marshal(n)
		return b
	}
	b := make([]byte, 0, 160+24*(len(n.Features)+len(n.Nodes)+len(n.Sensors)))
	b = schema.AppendJSONText(append(b, `{"Network":`...), n.Network)
	b = appendJSONList(append(b, `,"Features":`...), n.Features)
	b = appendJSONList(append(b, `,"Nodes":`...), n.Nodes)
	b = appendJSONList(append(b, `,"Sensors":`...), n.Sensors)
	b = schema.AppendJSONText(append(b, `,"Geom":null,"Start":`...), n.Start)
	b = schema.AppendJSONText(append(b, `,"End":`...), n.End)
	b = schema.AppendJSONText(append(b, `,"DataType":`...), n.DataType)
	if n.Limit != 0 {
		b = strconv.AppendInt(append(b, `,"Limit":`...), int64(n.Limit), 10)
	}
	if n.Offset != 0 {
		b = strconv.AppendInt(append(b, `,"Offset":`...), int64(n.Offset), 10)
	}
	if n.Capped {
		b = append(b, `,"Capped":true`...)
	}
	return append(b, '}')
}

// appendJSONList appends s as json.Marshal writes a []string: null when nil.
func appendJSONList(b []byte, s []string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = schema.AppendJSONText(b, v)
	}
	return append(b, ']')
}
