package gateway

import (
	"github.com/valyala/fasthttp"
)

// jobURL is a job's own link, under the root its result links use: the
// url Plenario's /download answered with.
func jobURL(root, ticket string) string { return root + "v1/api/jobs/" + ticket }

// submitted answers a /download that repeats an accepted request: the
// document of the job it already is, with the job's link, as the first
// answer had it.
func (g *Gateway) submitted(ctx *fasthttp.RequestCtx, ticket string) error {
	rec, err := g.job(ctx, ticket)
	if err != nil {
		return err
	}
	doc := g.document(ctx, rec)
	root := rec.URLRoot
	if root == "" {
		if root, err = g.urlRoot(ctx); err != nil {
			return err
		}
	}
	doc.URL = jobURL(root, ticket)
	if !rec.Terminal() {
		ctx.Response.Header.Set("Retry-After", "1")
	}
	writeJSON(ctx, doc)
	return nil
}
