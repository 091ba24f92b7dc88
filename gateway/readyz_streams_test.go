package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
)

// TestReadyzStreamGone: with a stream the service needs deleted (the
// result store's, behind the job bucket), /readyz is a 503 naming it, not
// "ready".
func TestReadyzStreamGone(t *testing.T) {
	for _, stream := range []string{"OBJ_" + events.ResultBucket, "KV_" + events.JobBucket} {
		t.Run(stream, func(t *testing.T) {
			svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
			if code, body := testenv.Get(t, svc.URL+"/readyz"); code != 200 {
				t.Fatalf("readyz: got %d %s, want 200", code, body)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := svc.JS.DeleteStream(ctx, stream); err != nil {
				t.Fatal(err)
			}
			code, body := testenv.Get(t, svc.URL+"/readyz")
			if code != http.StatusServiceUnavailable || !bytes.Contains(body, []byte(stream)) {
				t.Fatalf("readyz with %s deleted: got %d %s, want 503 naming the stream", stream, code, body)
			}
		})
	}
}
