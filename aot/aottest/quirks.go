package aottest

import "github.com/plenario-next/exportd/aot"

// Quirk is one data line and what a load makes of it: Cause is the skip
// cause (as in `exportd load --json`), empty for a stored reading, whose
// row is then given.
type Quirk struct {
	Line  string
	Cause string
	Row   Row
}

// Row is a stored reading: datetime in the API's layout.
type Row struct {
	Node, TS, Sensor, Feature, Property string
	Value                               float64
}

// Quirks are lines with every quirk of the published data, in time order
// across a month boundary (two partitions).
var Quirks = []Quirk{
	{"2018/03/31 23:59:58,001e0610ba46,metsense,htu21d,temperature,5436,14.11", "",
		Row{"001e0610ba46", "2018-03-31T23:59:58", "metsense.htu21d", "temperature", "temperature", 14.11}},
	// Two readings of one property in one second: both are kept.
	{"2018/03/31 23:59:58,001e0610ba46,metsense,htu21d,temperature,5502,21.54", "",
		Row{"001e0610ba46", "2018-03-31T23:59:58", "metsense.htu21d", "temperature", "temperature", 21.54}},
	{"2018/03/31 23:59:58,001e0610ba46,metsense,htu21d,temperature,5502,21.54", "duplicate", Row{}},
	// The same sensor name under another subsystem is another sensor.
	{"2018/03/31 23:59:58,001e0610ba46,wagman,htu21d,temperature,100,25.00", "",
		Row{"001e0610ba46", "2018-03-31T23:59:58", "wagman.htu21d", "temperature", "temperature", 25}},
	{"2018/03/31 23:59:59,001e0610ba46,metsense,metsense,id,NA,00001814B7E8", "not_numeric", Row{}},
	{"2018/03/31 23:59:59,001e0610ba8f,lightsense,ml8511,intensity,9643,NA", "na", Row{}},
	{"2018/03/31 23:59:59,001e0610ba8f,lightsense,ml8511,intensity,9643,", "na", Row{}},
	{"2018/03/31 23:59:59,001e06ffffff,metsense,bmp180,pressure,11417504,1062.55", "unknown_node", Row{}},
	{"2018/03/31 23:59:59,001e0610ba8f,metsense,nosuch,pressure,1,2", "unknown_sensor", Row{}},
	{"2018/03/31 23:59:59,001e0610ba8f,metsense,bmp180", "malformed", Row{}},
	{"2018/13/31 23:59:59,001e0610ba8f,metsense,bmp180,pressure,1,2", "malformed", Row{}},
	{"2018/03/31 23:59:59,001e0610ba8f,metsense,bmp180,pressure,1,2,3", "malformed", Row{}},
	{`"2018/04/01 00:00:01","001e0610ba3b","metsense","bmp180","pressure","11417504","1062.55"`, "",
		Row{"001e0610ba3b", "2018-04-01T00:00:01", "metsense.bmp180", "pressure", "pressure", 1062.55}},
	{`2018/04/01 00:00:01,001e0610ba3b,metsense,"bmp180",temperature,"1,2",3.5`, "",
		Row{"001e0610ba3b", "2018-04-01T00:00:01", "metsense.bmp180", "temperature", "temperature", 3.5}},
	{"2018/04/01 00:00:02,001e0610f02f,lightsense,hmc5883l,magnetic_field_x,1,-12.5\r", "",
		Row{"001e0610f02f", "2018-04-01T00:00:02", "lightsense.hmc5883l", "magnetic_field", "magnetic_field_x", -12.5}},
	{"2018/04/01 00:00:03,001e0610f02f,metsense,tsys01,temperature,1,nan", "not_numeric", Row{}},
	{"2018/04/01 00:00:03,001e0610f02f,metsense,tsys01,temperature,1,1e3", "",
		Row{"001e0610f02f", "2018-04-01T00:00:03", "metsense.tsys01", "temperature", "temperature", 1000}},
	// A quote left open runs to the end of the file: one malformed record.
	{`2018/04/01 00:00:04,001e0610f02f,metsense,tsys01,temperature,"1,2`, "malformed", Row{}},
}

// QuirkLines are the lines of Quirks.
func QuirkLines() []string {
	out := make([]string, len(Quirks))
	for i, q := range Quirks {
		out[i] = q.Line
	}
	return out
}

// QuirkRows are the readings Quirks store.
func QuirkRows() []Row {
	var out []Row
	for _, q := range Quirks {
		if q.Cause == "" {
			out = append(out, q.Row)
		}
	}
	return out
}

// QuirkCounts is what reading Quirks counts.
func QuirkCounts() aot.Counts {
	c := aot.Counts{Lines: int64(len(Quirks))}
	for _, q := range Quirks {
		switch q.Cause {
		case "":
			c.Readings++
		case "duplicate":
			c.Duplicate++
		case "not_numeric":
			c.NotNumeric++
		case "na":
			c.NA++
		case "unknown_node":
			c.UnknownNode++
		case "unknown_sensor":
			c.UnknownSensor++
		case "malformed":
			c.Malformed++
		}
	}
	return c
}
