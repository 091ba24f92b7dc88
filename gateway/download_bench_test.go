package gateway_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime/trace"
	"strconv"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// BenchmarkDownloadJSON downloads a stored multi-part job (BENCH_DOWNLOAD_ROWS
// rows, default 2 000 000, in parts of 250 000 as make bench's) as JSON
// and as CSV through the real gateway and NATS, as make bench's jobs phase
// does: what a download costs the test process's CPU (cpu-ns/row: gateway,
// embedded NATS and the client) and its wall time (ns/row).
func BenchmarkDownloadJSON(b *testing.B) {
	rows := int64(2_000_000)
	if s := os.Getenv("BENCH_DOWNLOAD_ROWS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		rows = n
	}
	store := testenv.MustOpenStore(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := store.Seed(ctx, chstore.DemoNetwork("array_of_things"), rows, ddSeedEnd); err != nil {
		b.Fatal(err)
	}
	svc := testenv.StartService(b, testenv.ServiceOptions{Store: store, PartRows: 250_000})
	ticket := svc.Submit(b, "array_of_things", "start_datetime="+ddSeedEnd.Add(-7*24*time.Hour).Format(time.RFC3339)+"&end_datetime="+ddSeedEnd.Format(time.RFC3339))
	if job := svc.Wait(b, ticket, 5*time.Minute); job.Status.Status != schema.StatusSuccess {
		b.Fatalf("export: %s", job.Status.Status)
	}
	for _, format := range []string{"json", "csv"} {
		b.Run(format, func(b *testing.B) {
			u := svc.URL + "/v1/api/datadump/" + ticket + "?data_type=" + format
			if dir := os.Getenv("BENCH_TRACE_DIR"); dir != "" { // go tool trace of the downloads alone
				f, err := os.Create(filepath.Join(dir, format+".trace"))
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				if err := trace.Start(f); err != nil {
					b.Fatal(err)
				}
				defer trace.Stop()
			}
			cpu0 := cputime.Self()
			var n int64
			for range b.N {
				resp, err := testenv.HTTPClient.Get(u)
				if err != nil {
					b.Fatal(err)
				}
				k, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || k != resp.ContentLength {
					b.Fatalf("%d, %d of %d bytes (%v)", resp.StatusCode, k, resp.ContentLength, err)
				}
				n = k
			}
			b.SetBytes(n)
			b.ReportMetric(float64(cputime.Self()-cpu0)/float64(int64(b.N)*rows), "cpu-ns/row")
			b.ReportMetric(float64(b.Elapsed())/float64(int64(b.N)*rows), "ns/row")
		})
	}
}
