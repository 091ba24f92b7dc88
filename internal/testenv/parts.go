package testenv

import (
	"context"
	"io"

	"github.com/plenario-next/exportd/events"
)

// PutPart stores a part of ticket on bus as the exporter does, its CSV
// read from r to EOF, but without its JSON size counted (as a part stored
// before the exporter counted it): for tests that need a stored part
// without running an export.
func PutPart(ctx context.Context, bus *events.Bus, ticket string, part int, rows func() int64, r io.Reader) (events.StoredPart, error) {
	w := bus.NewPartWriter(ctx, ticket, part)
	if _, err := io.Copy(csvWriter{w}, r); err != nil {
		w.Abort(err)
		return events.StoredPart{}, err
	}
	return w.Close(rows())
}

// csvWriter is the io.Writer of a part's CSV.
type csvWriter struct{ w *events.PartWriter }

func (c csvWriter) Write(p []byte) (int, error) {
	if err := c.w.WriteCSV(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
