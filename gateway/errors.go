package gateway

import (
	"encoding/json"
	"errors"
	"net"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// writeError renders err in Plenario's shapes with the status its code
// decides. Internal errors are logged and never described to the client.
func (g *Gateway) writeError(ctx *fasthttp.RequestCtx, err error) {
	var e *schema.Error
	if !errors.As(err, &e) {
		e = &schema.Error{Code: schema.Internal, Err: err}
	}
	switch e.Code {
	case schema.Invalid, schema.Unprocessable, schema.Unsupported:
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		switch e.Code {
		case schema.Unprocessable:
			ctx.SetStatusCode(fasthttp.StatusUnprocessableEntity)
		case schema.Unsupported:
			ctx.SetStatusCode(fasthttp.StatusUnsupportedMediaType)
		}
		var body any = fields(e)
		if len(e.Fields) == 0 && e.Message != "" {
			body = e.Message // Plenario's plain-string 400, e.g. an empty geom area
		}
		writeError(ctx, body)
	case schema.NotFound:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		if nf := (*jobNotFoundError)(nil); errors.As(err, &nf) {
			writeJSON(ctx, map[string]string{"ticket": nf.ticket, "error": e.Message})
			return
		}
		writeError(ctx, fields(e))
	case schema.Conflict:
		ctx.SetStatusCode(fasthttp.StatusConflict)
		writeError(ctx, e.Message)
	case schema.TooMany:
		ctx.Response.Header.Set("Retry-After", "5")
		ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
		writeError(ctx, e.Message)
	case schema.Unavailable:
		g.logger.Warn("dependency unavailable", "path", string(ctx.Path()), "err", err)
		ctx.Response.Header.Set("Retry-After", "5")
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		writeError(ctx, e.Message)
	case schema.Full:
		g.logger.Warn("result storage is short", "path", string(ctx.Path()), "err", err)
		ctx.Response.Header.Set("Retry-After", "60")
		ctx.SetStatusCode(fasthttp.StatusInsufficientStorage)
		writeError(ctx, e.Message)
	case schema.Unauthorized:
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="exportd"`)
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		writeError(ctx, e.Message)
	default:
		g.logger.Error("internal error", "path", string(ctx.Path()), "err", err)
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		writeError(ctx, "internal error")
	}
}

// writeError writes an error body in Plenario's shape (sensor_response.py:
// make_error), whatever the status: {"meta":{"query":{…}},"error":msg},
// msg a message or messages keyed by field, so that a client's one error
// handler reads every error, ours beyond Plenario's 400s included. Only
// an unknown ticket keeps get_job's own {"ticket","error"}.
func writeError(ctx *fasthttp.RequestCtx, msg any) {
	writeJSON(ctx, map[string]any{"meta": map[string]any{"query": queryArgs(ctx)}, "error": msg})
}

func fields(e *schema.Error) map[string][]string {
	if len(e.Fields) > 0 {
		return e.Fields
	}
	return map[string][]string{"request": {e.Message}}
}

// queryArgs is the request's query string as Plenario echoed it in meta:
// Flask's request.args, a repeated argument's first value.
func queryArgs(ctx *fasthttp.RequestCtx) map[string]string {
	out := map[string]string{}
	ctx.QueryArgs().VisitAll(func(k, v []byte) {
		if _, ok := out[string(k)]; !ok {
			out[string(k)] = string(v)
		}
	})
	return out
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	ctx.SetContentType("application/json")
	b, err := json.Marshal(v)
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		b = []byte(`{"error":"internal error"}`)
	}
	ctx.SetBody(append(b, '\n'))
}

// MaxRequestHeader bounds the request line and headers, so the query
// string: a geom or a list that does not fit is refused before any work.
const MaxRequestHeader = 32 << 10

// requestError answers a request fasthttp could not read, in Plenario's
// error shape rather than fasthttp's plain text.
func requestError(ctx *fasthttp.RequestCtx, err error) {
	status, msg := fasthttp.StatusBadRequest, "Could not parse the request."
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.As(err, &small):
		status = fasthttp.StatusRequestHeaderFieldsTooLarge
		msg = "Request line and headers too large: at most " + strconv.Itoa(MaxRequestHeader>>10) +
			" KiB. Select fewer nodes, a simpler geom, or use the defaults."
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, msg = fasthttp.StatusRequestEntityTooLarge, "Request body too large."
	case errors.As(err, &ne) && ne.Timeout():
		status, msg = fasthttp.StatusRequestTimeout, "Request timeout."
	}
	setCORS(&ctx.Response.Header, nil) // the request was not read: its path's methods are unknown
	ctx.SetStatusCode(status)
	writeError(ctx, map[string][]string{"request": {msg}})
}
