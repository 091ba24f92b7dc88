package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
	"github.com/plenario-next/exportd/webhook"
)

// DefaultMaxWebhooks is how many endpoints one client may register.
const DefaultMaxWebhooks = 20

// webhookView is an endpoint as its client sees it; Secret only in the
// answer to its registration.
type webhookView struct {
	ID        string             `json:"id"`
	URL       string             `json:"url"`
	Events    []schema.EventKind `json:"events"`
	Ticket    string             `json:"ticket,omitempty"` // a job's callback
	CreatedAt time.Time          `json:"created_at"`
	Secret    string             `json:"secret,omitempty"`
}

func viewOf(w schema.Webhook) webhookView {
	return webhookView{ID: w.ID, URL: w.URL, Events: w.Events, Ticket: w.Ticket, CreatedAt: w.CreatedAt}
}

// webhookRequest is a registration, as JSON or as a form.
type webhookRequest struct {
	URL    string          `json:"url"`
	Events json.RawMessage `json:"events"` // ["succeeded","failed"] or "succeeded,failed"
}

// createWebhook registers an endpoint and answers 201 with its id and
// its secret, which no later answer shows.
func (g *Gateway) createWebhook(ctx *fasthttp.RequestCtx, _ []string) error {
	u, kinds, err := webhookInput(ctx)
	if schema.ErrorCode(err) == schema.Unsupported {
		return err
	}
	p := schema.Problems{}
	if err != nil {
		p.Add("request", err.Error())
	} else {
		if u == "" {
			p.Add("url", "Missing url: the address to POST events to.")
		} else if cerr := g.WebhookPolicy.CheckURL(ctx, u); cerr != nil {
			p.Add("url", "The url "+cerr.Error()+".")
		}
		if kinds == nil {
			p.Add("events", "Missing or unknown events: a comma-separated list of "+kindList()+", or *.")
		}
	}
	if err := p.Err(); err != nil {
		return err
	}
	// Counted, then added: registrations at once would each count the
	// same endpoints and all pass the bound (100 at once made 32 of at
	// most 20, each a consumer on the event stream), so this gateway
	// takes a client's one at a time, and one made meanwhile by another
	// gateway is found by counting again after.
	client := ""
	if len(g.APIKeys) > 0 {
		client = clientID(ctx)
	}
	defer g.registering.lock(client)()
	max := g.maxWebhooks()
	if n, err := g.registered(ctx); err != nil {
		return err
	} else if n >= max {
		return errTooManyWebhooks(max)
	}
	w := schema.Webhook{ID: webhook.NewID(), URL: u, Events: kinds, CreatedAt: g.Now().UTC().Truncate(time.Second),
		Secret: webhook.NewSecret()}
	if len(g.APIKeys) > 0 {
		w.Client = clientID(ctx)
	}
	if w, err = g.bus.AddWebhook(ctx, w); err != nil {
		return err
	}
	if n, err := g.registered(ctx); err == nil && n > max {
		if err := g.bus.DeleteWebhook(ctx, w.ID); err != nil {
			return err
		}
		return errTooManyWebhooks(max)
	}
	v := viewOf(w)
	v.Secret = w.Secret
	ctx.Response.Header.Set("Location", "/v1/api/webhooks/"+w.ID)
	ctx.SetStatusCode(fasthttp.StatusCreated)
	writeJSON(ctx, v)
	return nil
}

// registered is how many endpoints the caller has registered; jobs'
// callbacks are bounded apart, by MaxActive (callbacksFull).
func (g *Gateway) registered(ctx *fasthttp.RequestCtx) (int, error) {
	mine, err := g.ownWebhooks(ctx)
	n := 0
	for _, w := range mine {
		if w.Ticket == "" {
			n++
		}
	}
	return n, err
}

// clientLocks are locks by client, made as needed and dropped when no one
// holds or waits for them. The zero value is ready.
type clientLocks struct {
	mu sync.Mutex
	m  map[string]*clientLock
}

type clientLock struct {
	sync.Mutex
	users int // holding or waiting; guarded by clientLocks.mu
}

// lock takes client's lock and returns what releases it.
func (c *clientLocks) lock(client string) (unlock func()) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*clientLock{}
	}
	l := c.m[client]
	if l == nil {
		l = &clientLock{}
		c.m[client] = l
	}
	l.users++
	c.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		c.mu.Lock()
		if l.users--; l.users == 0 {
			delete(c.m, client)
		}
		c.mu.Unlock()
	}
}

func errTooManyWebhooks(max int) error {
	return schema.Errorf(schema.Conflict, "At most %d webhooks per client; delete one first.", max)
}

// webhookInput reads url and events from a JSON body, or else from the
// form (body or query string); kinds is nil when events is missing or
// names an unknown kind. A body in another media type (curl -F's
// multipart/form-data, text/plain) is an Unsupported error saying what is
// read, not a "Missing url" for the url it holds.
func webhookInput(ctx *fasthttp.RequestCtx) (u string, kinds []schema.EventKind, err error) {
	var list []string
	isJSON, err := registrationIsJSON(ctx)
	if err != nil {
		return "", nil, err
	}
	if isJSON {
		if u, list, err = webhookJSON(ctx.PostBody()); err != nil {
			return "", nil, err
		}
	} else {
		for _, a := range []*fasthttp.Args{ctx.PostArgs(), ctx.QueryArgs()} {
			if v := a.Peek("url"); len(v) > 0 && u == "" {
				u = string(v)
			}
			for _, v := range a.PeekMulti("events") {
				list = append(list, string(v))
			}
		}
	}
	kinds, _ = schema.ParseEventKinds(list)
	return strings.TrimSpace(u), kinds, nil
}

// registrationIsJSON says whether a registration's body is JSON: one sent
// as JSON (any case, with parameters or a +json suffix), and one that
// begins with '{' sent as a form or with no media type, as curl -d
// '{...}' sends it (a form's first key is never '{'). A form or no body
// is read as a form and the query string; anything else is refused.
func registrationIsJSON(ctx *fasthttp.RequestCtx) (bool, error) {
	mt, _, _ := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	body := bytes.TrimSpace(ctx.PostBody())
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return true, nil
	case (mt == "" || mt == "application/x-www-form-urlencoded") && len(body) > 0 && body[0] == '{':
		return true, nil
	case mt == "application/x-www-form-urlencoded" || len(body) == 0:
		return false, nil
	}
	what := "Content-Type " + mt
	if mt == "" {
		what = "a body without a Content-Type"
	}
	msg := "Unsupported " + what + ": send the registration as application/json ({\"url\": ..., \"events\": [...]}) " +
		"or as a form (application/x-www-form-urlencoded, or the query string)."
	return false, &schema.Error{Code: schema.Unsupported, Message: msg, Fields: map[string][]string{"request": {msg}}}
}

// webhookJSON reads a JSON registration: one object, nothing after it.
func webhookJSON(body []byte) (u string, list []string, err error) {
	var r webhookRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		return "", nil, errors.New("The body must be a JSON object with url and events.")
	}
	var one string
	if json.Unmarshal(r.Events, &list) != nil && json.Unmarshal(r.Events, &one) == nil {
		list = []string{one}
	}
	return r.URL, list, nil
}

func kindList() string {
	s := make([]string, len(schema.AllEventKinds))
	for i, k := range schema.AllEventKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func (g *Gateway) maxWebhooks() int {
	if g.MaxWebhooks > 0 {
		return g.MaxWebhooks
	}
	return DefaultMaxWebhooks
}

// ownWebhooks is every endpoint the caller may see: with API keys, those
// its key registered; without, all.
func (g *Gateway) ownWebhooks(ctx context.Context) ([]schema.Webhook, error) {
	all, err := g.bus.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	rc, _ := ctx.(*fasthttp.RequestCtx)
	out := all[:0]
	for _, w := range all {
		if rc == nil || g.webhookVisible(rc, w) {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b schema.Webhook) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (g *Gateway) webhookVisible(ctx *fasthttp.RequestCtx, w schema.Webhook) bool {
	return len(g.APIKeys) == 0 || w.Client == clientID(ctx)
}

// listWebhooks answers the caller's endpoints, without their secrets.
func (g *Gateway) listWebhooks(ctx *fasthttp.RequestCtx, _ []string) error {
	mine, err := g.ownWebhooks(ctx)
	if err != nil {
		return err
	}
	out := make([]webhookView, len(mine))
	for i, w := range mine {
		out[i] = viewOf(w)
	}
	writeJSON(ctx, map[string]any{"webhooks": out})
	return nil
}

// webhookFor returns endpoint id if the caller may see it; another key's
// is not found, as its jobs are.
func (g *Gateway) webhookFor(ctx *fasthttp.RequestCtx, id string) (schema.Webhook, error) {
	w, err := g.bus.Webhook(ctx, id)
	if err == nil && !g.webhookVisible(ctx, w) {
		err = schema.Errorf(schema.NotFound, "Webhook not found.")
	}
	if schema.ErrorCode(err) == schema.NotFound {
		return w, &schema.Error{Code: schema.NotFound, Message: "Webhook not found.", Fields: map[string][]string{"id": {"Webhook not found."}}}
	}
	return w, err
}

// webhookStatus is an endpoint with its delivery state.
type webhookStatus struct {
	webhookView
	schema.WebhookState
	Pending uint64 `json:"pending"`
}

// getWebhook answers an endpoint and its delivery state.
func (g *Gateway) getWebhook(ctx *fasthttp.RequestCtx, p []string) error {
	w, err := g.webhookFor(ctx, p[0])
	if err != nil {
		return err
	}
	st, pending, err := g.bus.WebhookState(ctx, w.ID)
	if err != nil {
		return err
	}
	writeJSON(ctx, webhookStatus{webhookView: viewOf(w), WebhookState: st, Pending: pending})
	return nil
}

// deleteWebhook removes an endpoint and what waits for it.
func (g *Gateway) deleteWebhook(ctx *fasthttp.RequestCtx, p []string) error {
	w, err := g.webhookFor(ctx, p[0])
	if err != nil {
		return err
	}
	if err := g.bus.DeleteWebhook(ctx, w.ID); err != nil {
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
