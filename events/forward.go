package events

import (
	"encoding/json"

	"github.com/plenario-next/exportd/schema"
)

// forward publishes e, folded, to its owner's subject
// (schema.OwnerSubject) when the job's client is an API key, so that the
// NATS identity of that key, which may subscribe to its owner subjects
// and nothing else, sees the events of its own jobs only.
//
// A plain publish, not a stream: owner subjects are for watching live, as
// a core subscription to the event stream's subjects is; history is the
// gateway's /jobs/{ticket}/events with Last-Event-ID. The projector folds
// each ticket's events in order, so they are forwarded in order; an event
// redelivered after a projector died may be forwarded twice, with the
// same seq.
func (p *Projector) forward(client string, e schema.Event) {
	owner, ok := schema.ClientOwner(client)
	if !ok || !schema.IsTicket(e.Ticket) {
		return
	}
	e.Version = schema.EventVersion
	data, err := json.Marshal(e)
	if err != nil {
		return
	}
	if err := p.bus.nc.Publish(schema.OwnerSubject(owner, e.Ticket, e.Kind), data); err != nil {
		p.logger.Warn("projector: forward to owner", "ticket", e.Ticket, "kind", e.Kind, "err", err)
	}
}
