package gateway

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// Cross-origin access. Plenario's web client (plenario-explorer) and any
// dashboard run on another origin than the API, so a browser lets their
// scripts read an answer only when it carries CORS headers. Plenario sent
// them on its sensor-network views; we send them on every answer, errors
// included (a script must be able to read a 400's field errors, a 429's
// Retry-After, a 401), and we answer the preflight a browser sends before
// a request with Authorization, Range or Idempotency-Key, which Plenario
// refused with a 405. Origin is "*": the API is public data, and an API key
// travels in Authorization, not in a cookie, so no credentials mode is
// needed and none is allowed.
const (
	// CORSMaxAge is how long, in seconds, a browser may reuse a preflight's
	// answer: Plenario's 21600 (6 h).
	CORSMaxAge = "21600"

	// corsExposed are the response headers, beyond the always-readable
	// ones, that a script may read: the download's file name, size, range
	// and validators, the row count, whether a download follows a running
	// job, where a registered webhook lives, and what a 401, 405, 429 or
	// 503 says to do next.
	corsExposed = "Content-Disposition, Content-Encoding, Content-Length, Content-Range, Accept-Ranges, " +
		"ETag, Expires, Last-Modified, Retry-After, WWW-Authenticate, Allow, X-Row-Count, " +
		"Preference-Applied, Location"

	// corsAllowedHeaders are the request headers the API reads, granted
	// when a preflight names none or names them in a form we do not echo.
	corsAllowedHeaders = "Authorization, Range, If-Range, If-None-Match, If-Modified-Since, " +
		"Idempotency-Key, Last-Event-ID, Accept-Encoding, Content-Type, Cache-Control"

	// corsDefaultMethods are what a path no route serves is said to take:
	// a preflight for it still succeeds, so that the script reads the 404.
	corsDefaultMethods = "GET, HEAD"
)

// setCORS puts the headers every answer carries. methods are the path's
// methods; empty for a path no route serves.
func setCORS(h *fasthttp.ResponseHeader, methods []string) {
	allow := corsDefaultMethods
	if len(methods) > 0 {
		allow = strings.Join(methods, ", ")
	}
	setCORSAllow(h, []byte(allow))
}

// setCORSAllow is setCORS with the methods joined already (a route's
// allowMethods). The names are in canonical form, so that fasthttp only
// copies them: normalizing four names on every request cost a poll a
// tenth of the gateway's handler time (BenchmarkJobGet).
func setCORSAllow(h *fasthttp.ResponseHeader, allow []byte) {
	h.SetCanonical(corsOriginName, corsAnyOrigin)
	h.SetCanonical(corsMethodsName, allow)
	h.SetCanonical(corsMaxAgeName, corsMaxAge)
	h.SetCanonical(corsExposeName, corsExposedBytes)
}

var (
	corsOriginName   = []byte("Access-Control-Allow-Origin")
	corsMethodsName  = []byte("Access-Control-Allow-Methods")
	corsMaxAgeName   = []byte("Access-Control-Max-Age")
	corsExposeName   = []byte("Access-Control-Expose-Headers")
	corsAnyOrigin    = []byte("*")
	corsMaxAge       = []byte(CORSMaxAge)
	corsExposedBytes = []byte(corsExposed)
)

// preflight answers an OPTIONS request, a browser's CORS preflight or
// not: 204 with the path's methods and the request headers asked for. It
// runs before the API key is checked, since a browser never sends
// credentials on a preflight; the real request still needs the key.
func preflight(ctx *fasthttp.RequestCtx, methods []string) {
	allow := append(append([]string(nil), methods...), fasthttp.MethodOptions)
	if len(methods) == 0 {
		allow = []string{fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodOptions}
	}
	h := &ctx.Response.Header
	h.Set("Allow", strings.Join(allow, ", "))
	h.Set("Access-Control-Allow-Headers", allowedHeaders(string(ctx.Request.Header.Peek("Access-Control-Request-Headers"))))
	// The answer depends on what was asked: a shared cache must not give
	// one preflight's answer to another.
	h.Set("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// allowedHeaders is the preflight's Access-Control-Allow-Headers: the
// requested list echoed, so that a client's own headers pass too (with
// origin "*", a wildcard would not cover Authorization); the API's own
// list when nothing was asked or the list is not plain header names.
func allowedHeaders(requested string) string {
	requested = strings.TrimSpace(requested)
	if requested == "" || len(requested) > 1024 {
		return corsAllowedHeaders
	}
	for i := 0; i < len(requested); i++ {
		if !isHeaderListByte(requested[i]) {
			return corsAllowedHeaders
		}
	}
	return requested
}

// isHeaderListByte reports whether c may appear in a comma-separated list
// of header names (RFC 9110 tokens).
func isHeaderListByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~, ", c) >= 0
}
