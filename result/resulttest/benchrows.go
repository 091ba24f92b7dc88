// Package resulttest makes rows as make bench's data has them, for the
// benchmarks of the rendering in result and in the gateway.
package resulttest

import (
	"fmt"
	"math"
	"time"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// BenchRows are n rows as make bench's data has them (chstore.Seed, in the
// export's order), from t0: every second, each of 100 nodes reports nine
// values, magnetic_field's three in one reading, so eight observations a
// node and second; values in hundredths in the ranges of chstore's
// demoValue, drawn from a fixed sequence.
func BenchRows(n int, t0 time.Time) []schema.Row {
	perNode := []struct {
		sensor, feature, prop string
		from, span            float64
	}{
		{"bmp180", "atmospheric_pressure", "pressure", 1000, 30}, {"bmp180", "temperature", "temperature", -10, 40},
		{"hmc5883l", "magnetic_field", "x", -1, 2}, {"hmc5883l", "magnetic_field", "y", -1, 2}, {"hmc5883l", "magnetic_field", "z", -1, 2},
		{"htu21d", "relative_humidity", "humidity", 20, 70}, {"htu21d", "temperature", "temperature", -10, 40},
		{"tmp112", "temperature", "temperature", -10, 40}, {"tsl250rd", "light_intensity", "intensity", 0, 1000},
	}
	rows := make([]schema.Row, 0, n)
	rnd := uint64(1)
	for tick := 0; len(rows) < n; tick++ {
		for node := 0; node < 100 && len(rows) < n; node++ {
			id := fmt.Sprintf("001e0610%04x", 0xb000+node)
			for _, v := range perNode {
				rnd = rnd*6364136223846793005 + 1442695040888963407
				x := math.Round((v.from+v.span*float64(rnd>>11)/(1<<53))*100) / 100
				rows = append(rows, schema.Row{Node: id, TS: t0.Add(time.Duration(tick) * time.Second),
					Sensor: v.sensor, Feature: v.feature, Property: v.prop, Value: x})
			}
		}
	}
	return rows[:n]
}

// CSV is rows as stored CSV lines (result.CSVEncoder), without a head.
func CSV(rows []schema.Row) []byte {
	var e result.CSVEncoder
	var b []byte
	for i := range rows {
		b = e.AppendRow(b, &rows[i])
	}
	return b
}
