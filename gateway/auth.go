package gateway

import (
	"crypto/subtle"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// clientKey is where Handler leaves the caller's identity for handlers.
const clientKey = "exportd.client"

// authenticate decides who is calling. With API keys configured, the
// caller is its key (hashed) and a missing or unknown key is refused; else
// the caller is its address, and only limits use it.
func (g *Gateway) authenticate(ctx *fasthttp.RequestCtx) error {
	if len(g.APIKeys) == 0 {
		return nil // clientID falls back to the address when asked
	}
	auth := string(ctx.Request.Header.Peek("Authorization"))
	scheme, key, _ := strings.Cut(auth, " ")
	key = strings.TrimSpace(key) // the scheme is case-insensitive (RFC 9110 11.1): bearer is Bearer
	if !strings.EqualFold(scheme, "Bearer") || key == "" {
		return schema.Errorf(schema.Unauthorized, "An API key is required: Authorization: Bearer <key>.")
	}
	for _, k := range g.APIKeys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			ctx.SetUserValue(clientKey, keyClient(k))
			return nil
		}
	}
	return schema.Errorf(schema.Unauthorized, "Unknown API key.")
}

// keyClient is the caller's id for key; schema.KeyClient, so that the
// events of its jobs reach the NATS identity made for the key.
func keyClient(k string) string { return schema.KeyClient(k) }

func clientID(ctx *fasthttp.RequestCtx) string {
	if c, ok := ctx.UserValue(clientKey).(string); ok {
		return c
	}
	return "ip:" + ctx.RemoteIP().String()
}

// visible reports whether the caller may see a job: with API keys, only
// the key that made it does; a job of another key is "not found", so a
// wrong key learns nothing of it.
func (g *Gateway) visible(ctx *fasthttp.RequestCtx, rec *schema.JobRecord) bool {
	return len(g.APIKeys) == 0 || rec.Client == clientID(ctx)
}
