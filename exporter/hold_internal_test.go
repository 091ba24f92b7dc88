package exporter

import (
	"context"

	"github.com/plenario-next/exportd/schema"
)

// HoldPlans makes p call hold as each plan begins, so that a test can keep
// chosen plans running for as long as it needs (a whole-table plan takes
// seconds of ClickHouse on the bench's 20 M rows, the test's a few ms).
func HoldPlans(p *Planner, hold func(context.Context, schema.Event)) { p.hold = hold }
