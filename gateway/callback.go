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

// callbacksFull is a TooMany error when a /download naming callback u
// would give its client more than MaxActive callbacks. A callback outlives
// its job until the job's end is delivered or given up (a day): without
// this bound, a client whose callback never answers made one endpoint, and
// one consumer on the event stream, per job, however few it ran at once
// (TestCallbacksBoundedPerClient).
func (g *Gateway) callbacksFull(ctx *fasthttp.RequestCtx, u string) error {
	if u == "" || g.MaxActive <= 0 {
		return nil
	}
	all, err := g.bus.Webhooks(ctx)
	if err != nil {
		return err
	}
	n, client := 0, clientID(ctx)
	for _, w := range all {
		if w.Ticket != "" && w.Client == client {
			n++
		}
	}
	if n < g.MaxActive {
		return nil
	}
	return schema.Errorf(schema.TooMany, "Too many callbacks not yet delivered for this client (at most %d); "+
		"retry when one is, or ask without callback.", g.MaxActive)
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
	w.Client = clientID(ctx) // counted by callbacksFull; not a key's without keys: any caller sees it
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
