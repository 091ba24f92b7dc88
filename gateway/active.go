package gateway

import "sync"

// DefaultMaxActive is how many queued or running jobs one client may have.
const DefaultMaxActive = 100

// active tracks the queued and running jobs of each client, from the job
// records in force in the cache (the KV watch's, and the cancels this
// gateway folded: cache.go) plus the jobs this gateway accepted but the
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

// reserve adds ticket to client's jobs if it has fewer than max, and
// reports whether it did: counted and added in one step, so that requests
// at once cannot all pass the limit by each counting before any other was
// added (TestActiveJobLimitAtOnce). A reserved ticket that is not accepted
// is removed again.
func (a *active) reserve(client, ticket string, max int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.byClient[client]) >= max {
		return false
	}
	a.client[ticket] = client
	if a.byClient[client] == nil {
		a.byClient[client] = map[string]bool{}
	}
	a.byClient[client][ticket] = true
	return true
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
