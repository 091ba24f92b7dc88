package events_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// TestPartFirstWriterWins: two writers store the same part, as two
// deliveries of it do when an exporter stalls past the ack wait, and the
// second one's slice has a row more (loaded since). Whether the second
// closes after the first has stored the part, or the first's commit comes
// inside the second's Close, between its look at the part and its publish,
// the part stays the first's, as its part_done (the first Close's result)
// announced it: the second Close returns that part (ErrPartStored), Part
// describes it, a download (OpenPart, and the object store's own Get)
// reads its bytes with its digest, its Parquet file is the first's, and
// nothing of the second writer is left in the store.
func TestPartFirstWriterWins(t *testing.T) {
	for _, c := range []struct {
		name            string
		inside, parquet bool
	}{
		{"second closes after", false, false},
		{"first commits inside the second's Close", true, false},
		{"with Parquet", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			bus := newBus(t)
			const ticket = "0f1e2d3c4b5a69780f1e2d3c4b5a6978"
			firstCSV := csvPart(3 << 20)
			secondCSV := append(slices.Clip(firstCSV), "001e0610b000,2025-12-27T00:00:00,hmc5883l,magnetic_field,x,1.00\n"...)
			open := func(csv []byte, value float64) *events.PartWriter {
				w := bus.NewPartWriter(ctx, ticket, 1)
				if c.parquet {
					w.WithParquet()
					for i := range 1000 {
						r := result.ParquetRow{NodeID: "001e0610b000", Datetime: time.Unix(int64(i), 0).UTC(), Sensor: "hmc5883l",
							Feature: "magnetic_field", Property: "x", Value: value}
						if err := w.WriteParquet(r); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := w.WriteCSV(csv); err != nil {
					t.Fatal(err)
				}
				return w
			}
			first, second := open(firstCSV, 1), open(secondCSV, 2) // both hold their bytes before either closes
			var announced events.StoredPart
			var firstErr error
			closeFirst := func() { announced, firstErr = first.Close(7) }
			if c.inside {
				events.BeforePublish(second, closeFirst)
			} else {
				closeFirst()
			}
			got, err := second.Close(8)
			if firstErr != nil {
				t.Fatalf("first Close: %v", firstErr)
			}
			if !errors.Is(err, events.ErrPartStored) || got != announced {
				t.Fatalf("second Close: got %+v, %v; want the first's part %+v and ErrPartStored", brief(got), err, brief(announced))
			}
			if sp, err := bus.Part(ctx, ticket, 1); err != nil || sp != announced {
				t.Fatalf("Part: got %+v, %v; want the first's %+v", brief(sp), err, brief(announced))
			}
			if announced.Rows != 7 || announced.SHA256 != sha(firstCSV) || announced.Bytes != int64(len(firstCSV)) {
				t.Fatalf("the first Close announced %+v, want 7 rows of %d bytes, digest %s", brief(announced), len(firstCSV), sha(firstCSV))
			}

			r, err := bus.OpenPart(ctx, ticket, 1)
			if err != nil {
				t.Fatal(err)
			}
			var dl bytes.Buffer
			_, err = r.WriteTo(&dl)
			r.Close()
			if err != nil || !bytes.Equal(dl.Bytes(), firstCSV) {
				t.Fatalf("download: %d bytes (%v), want the first's %d", dl.Len(), err, len(firstCSV))
			}
			// The object store's own reader checks the digest recorded.
			obj, err := bus.Results().Get(ctx, schema.PartObject(ticket, 1))
			if err != nil {
				t.Fatal(err)
			}
			stored, err := io.ReadAll(obj)
			if err != nil {
				t.Fatalf("ObjectStore.Get: %v", err)
			}
			info, _ := obj.Info()
			sum := sha256.Sum256(stored)
			if want := "SHA-256=" + base64.URLEncoding.EncodeToString(sum[:]); info.Digest != want || int64(len(stored)) != announced.Stored {
				t.Fatalf("stored object: digest %s, %d bytes; want %s, %d", info.Digest, len(stored), want, announced.Stored)
			}
			if csv, err := io.ReadAll(s2.NewReader(bytes.NewReader(stored))); err != nil || !bytes.Equal(csv, firstCSV) {
				t.Fatalf("stored object decoded: %d bytes (%v), want the first's %d", len(csv), err, len(firstCSV))
			}
			wantChunks := map[string]uint64{"$O." + events.ResultBucket + ".C." + info.NUID: uint64(info.Chunks)}
			if c.parquet {
				pr, err := bus.OpenPartParquet(ctx, ticket, 1)
				if err != nil {
					t.Fatal(err)
				}
				pq, err := io.ReadAll(pr)
				pr.Close()
				if err != nil || int64(len(pq)) != announced.Parquet || sha(pq) != announced.ParquetSHA256 {
					t.Fatalf("Parquet download: %d bytes (%v), digest %s; want the first's %d, %s", len(pq), err, sha(pq), announced.Parquet, announced.ParquetSHA256)
				}
				n, err := strconv.ParseUint(info.Metadata[events.MetaParquetChunks], 10, 32)
				if err != nil {
					t.Fatal(err)
				}
				wantChunks["$O."+events.ResultBucket+".C."+info.Metadata[events.MetaParquetNUID]] = n
			}
			if got := chunkSubjects(t, bus); !maps.Equal(got, wantChunks) {
				t.Fatalf("chunks in the store: %v; want the first's only, %v", got, wantChunks)
			}

			if err := bus.DeletePart(ctx, ticket, 1); err != nil {
				t.Fatal(err)
			}
			if got := chunkSubjects(t, bus); len(got) != 0 {
				t.Fatalf("chunks after DeletePart: %v, want none", got)
			}
			if _, err := bus.Part(ctx, ticket, 1); schema.ErrorCode(err) != schema.NotFound {
				t.Fatalf("Part after DeletePart: %v, want not found", err)
			}
		})
	}
}

// chunkSubjects counts the result store's chunk messages by subject.
func chunkSubjects(t *testing.T, bus *events.Bus) map[string]uint64 {
	t.Helper()
	s, err := bus.JS().Stream(t.Context(), "OBJ_"+events.ResultBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context(), jetstream.WithSubjectFilter("$O."+events.ResultBucket+".C.>"))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects
}

// brief is sp to print: its Parquet footer, binary, as its length.
func brief(sp events.StoredPart) events.StoredPart {
	sp.ParquetFooter = fmt.Sprintf("(%d bytes)", len(sp.ParquetFooter))
	return sp
}
