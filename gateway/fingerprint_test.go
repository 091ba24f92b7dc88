package gateway_test

import (
	"bytes"
	"testing"

	"github.com/plenario-next/exportd/gateway"
)

// TestNormalizedJSON: what a digest hashes is written byte for byte as
// json.Marshal wrote it, so that digests of requests accepted before the
// change stay the same.
func TestNormalizedJSON(t *testing.T) {
	for _, n := range []gateway.NormRequest{
		{},
		{Network: "array_of_things", Start: "2001-01-01T00:00:00", End: "2001-01-01T00:00:01"},
		{Network: "array_of_things", Features: []string{"magnetic_field.x", "temperature"}, Nodes: []string{"00a", "00b"},
			Sensors: []string{}, DataType: "csv", Limit: 10, Offset: 30, Capped: true},
		{Network: `a"b\c<d>&é` + "\x01\u2028", Nodes: []string{"x</script>", "", "\xff"}, Limit: -1},
		{Network: "n", Geom: []byte(`{ "type": "Point", "coordinates": [1, 2] }`)},
	} {
		got, want := gateway.NormJSON(n), gateway.NormMarshal(n)
		if !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

// BenchmarkNormalizedJSON writes the ticket burst's request as its digest
// hashes it, by json.Marshal and by normRequest.json.
func BenchmarkNormalizedJSON(b *testing.B) {
	n := gateway.NormRequest{Network: "array_of_things", Start: "2001-01-01T00:00:00", End: "2001-01-01T00:00:01",
		Features: []string{"magnetic_field", "relative_humidity", "temperature"}}
	for _, c := range []struct {
		name  string
		write func(gateway.NormRequest) []byte
	}{{"marshal", gateway.NormMarshal}, {"append", gateway.NormJSON}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(c.write(n)) == 0 {
					b.Fatal("nothing written")
				}
			}
		})
	}
}
