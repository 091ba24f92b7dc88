package result_test

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/plenario-next/exportd/result"
)

// TestAppendValueIsStrconv: AppendValue spells every finite value exactly
// as strconv.AppendFloat(…, 'f', -1, 64), whichever way it takes: whole
// hundredths of every size and sign, their neighbours one ulp away,
// values of other precisions, and the edges.
func TestAppendValueIsStrconv(t *testing.T) {
	check := func(v float64) {
		t.Helper()
		if math.IsInf(v, 0) {
			return
		}
		want := strconv.FormatFloat(v, 'f', -1, 64)
		if got := string(result.AppendValue(nil, v)); got != want {
			t.Fatalf("AppendValue(%v) = %q, want %q", v, got, want)
		}
	}
	for _, v := range []float64{0, math.Copysign(0, -1), 0.01, -0.01, 0.1, 0.005, 0.015, 1, -1, 10, 100, 1e14, 9.99e12,
		1e15 / 100, 1e15/100 - 0.01, 9999999999999.99, -9999999999999.99, 1e13, 0.3, 0.7, 1023.53, -1.52, 681.88, 5e-324,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 123456789012.34, 0.29, 1.005, 2.675,
		9.99, 10.01, 99.99, 100.01, 999.99, 1000.01, 9999.99, 10000, 10000.01, -9999.99, -10000.01} {
		check(v)
		check(math.Nextafter(v, math.Inf(1)))
		check(math.Nextafter(v, math.Inf(-1)))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2_000_000 {
		scale := math.Pow(10, float64(r.IntN(17)))
		n := math.Round((r.Float64()*2 - 1) * scale)
		check(n / 100)
		check(n / 1000)
		check(n / 10)
		check(math.Nextafter(n/100, 0))
		check(r.NormFloat64() * scale)
	}
	if got := result.AppendValue([]byte("x"), math.NaN()); string(got) != "x" {
		t.Fatalf("NaN: got %q, want nothing appended", got)
	}
}
