package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
	"github.com/plenario-next/exportd/webhook"
)

// callbackArg takes /download's callback out of args: the URL to call
// when the job ends, checked as a registered endpoint's is. A refused one
// is a problem keyed callback, reported with the query's own.
func (g *Gateway) callbackArg(ctx *fasthttp.RequestCtx, args url.Values) (string, schema.Problems) {
	p := schema.Problems{}
	if _, ok := args["callback"]; !ok {
		return "", p
	}
	u := strings.TrimSpace(args.Get("callback"))
	delete(args, "callback")
	if err := g.WebhookPolicy.CheckURL(ctx, u); err != nil {
		p.Add("callback", "The callback "+err.Error()+".")
	}
	return u, p
}

// withProblems adds p to a ParseQuery error (or makes one of p alone).
func withProblems(err error, p schema.Problems) error {
	if len(p) == 0 {
		return err
	}
	if e, ok := err.(*schema.Error); ok && e.Code == schema.Invalid && len(e.Fields) > 0 {
		for k, v := range p {
			e.Fields[k] = append(e.Fields[k], v...)
		}
		return e
	}
	if err != nil {
		return err
	}
	return p.Err()
}

// callbackID names a job's callback: the same job and URL, the same
// endpoint, so that a repeated /download registers nothing new.
func callbackID(ticket, u string) string {
	h := sha256.Sum256([]byte("callback\x00" + ticket + "\x00" + u))
	return hex.EncodeToString(h[:8])
}

// answerCallback is addCallback when the request named a callback.
func (g *Gateway) answerCallback(ctx *fasthttp.RequestCtx, ticket, u string) error {
	if u == "" {
		return nil
	}
	return g.addCallback(ctx, ticket, u)
}

// addCallback registers u as ticket's callback and adds callback_id and
// callback_secret to the answer already written. A repeat of the same
// request (the same caller, hence the same job) is answered the same
// secret: the first answer's.
func (g *Gateway) addCallback(ctx *fasthttp.RequestCtx, ticket, u string) error {
	w := schema.Webhook{ID: callbackID(ticket, u), URL: u, Events: schema.CallbackEventKinds, Ticket: ticket,
		CreatedAt: g.Now().UTC().Truncate(1e9), Secret: webhook.NewSecret()}
	if len(g.APIKeys) > 0 {
		w.Client = clientID(ctx)
	}
	w, err := g.bus.AddWebhook(ctx, w)
	if err != nil {
		return err
	}
	body := bytes.TrimRight(ctx.Response.Body(), "\n")
	if len(body) == 0 || body[len(body)-1] != '}' {
		return nil
	}
	extra, _ := json.Marshal(map[string]string{"callback_id": w.ID, "callback_secret": w.Secret})
	out := append(bytes.Clone(body[:len(body)-1]), ',')
	out = append(append(out, extra[1:]...), '\n')
	ctx.SetBody(out)
	return nil
}
