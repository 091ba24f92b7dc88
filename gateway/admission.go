package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// DefaultMaxActive is how many queued or running jobs one client may have.
const DefaultMaxActive = 100

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
	key, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || key == "" {
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

// active tracks the queued and running jobs of each client, from a watch
// of the job documents plus the jobs this gateway accepted but the
// projector has not yet stored.
type active struct {
	mu       sync.Mutex
	client   map[string]string          // ticket → client
	byClient map[string]map[string]bool // client → tickets
}

func newActive() *active {
	return &active{client: map[string]string{}, byClient: map[string]map[string]bool{}}
}

func (a *active) add(client, ticket string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.client[ticket] = client
	if a.byClient[client] == nil {
		a.byClient[client] = map[string]bool{}
	}
	a.byClient[client][ticket] = true
}

func (a *active) remove(ticket string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.client[ticket]
	if !ok {
		return
	}
	delete(a.client, ticket)
	delete(a.byClient[c], ticket)
	if len(a.byClient[c]) == 0 {
		delete(a.byClient, c)
	}
}

func (a *active) count(client string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.byClient[client])
}

// Run keeps the gateway's view of jobs current until ctx is done: the
// cache polling is served from, and the active jobs limits count. Without
// it, every read goes to the KV and limits are not enforced.
func (g *Gateway) Run(ctx context.Context) error {
	w, err := g.bus.Jobs.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil { // the initial values are in
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				g.active.remove(e.Key())
				g.cache.remove(e.Key(), e.Revision())
				continue
			}
			// Every update of every job passes here: only the fields the
			// cache and the limits need are decoded, not the request.
			h, ok := g.cacheRecord(e.Key(), e.Revision(), e.Value())
			if !ok {
				g.active.remove(e.Key())
				continue
			}
			if h.terminal() {
				g.active.remove(e.Key())
			} else {
				g.active.add(h.Client, e.Key())
			}
		}
	}
}

// cacheRecord keeps a job record read from the KV at revision rev, and
// returns the part of it the limits need; a record that does not decode
// is dropped from the cache instead.
func (g *Gateway) cacheRecord(ticket string, rev uint64, raw []byte) (recordHead, bool) {
	var h recordHead
	if json.Unmarshal(raw, &h) != nil {
		g.cache.remove(ticket, rev)
		return h, false
	}
	g.cache.put(ticket, rev, h.Seq, raw, h.Client, h.terminal(), h.Job.Status.Meta.ExpiresAt)
	return h, true
}

// recordHead is the part of a schema.JobRecord that Run reads.
type recordHead struct {
	Job struct {
		Status struct {
			Status string `json:"status"`
			Meta   struct {
				ExpiresAt string `json:"expiresAt"`
			} `json:"meta"`
		} `json:"status"`
	} `json:"job"`
	Client string `json:"client"`
	Seq    uint64 `json:"seq"`
}

func (h *recordHead) terminal() bool { return schema.TerminalStatus(h.Job.Status.Status) }
