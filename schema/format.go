package schema

import "time"

// Formats a download may take.
const (
	FormatCSV    = "csv"
	FormatJSON   = "json"
	FormatNDJSON = "ndjson"
	// FormatParquet is one Parquet file of typed columns. A job submitted
	// as Parquet stores it (sizes, ranges); any other job converts its
	// stored CSV as it is sent.
	FormatParquet = "parquet"
)

// MsgDataType is the error for a data_type that names no format.
const MsgDataType = "Must be one of: csv, json, ndjson, parquet."

// IsFormat reports whether f names a format a download may take.
func IsFormat(f string) bool {
	switch f {
	case FormatCSV, FormatJSON, FormatNDJSON, FormatParquet:
		return true
	}
	return false
}

// CSVHeader is the first line of every CSV download. Parts are stored as
// CSV rows without it, one row per observed value.
const CSVHeader = "node_id,datetime,sensor,feature,property,value\n"

// Observation is one reading as Plenario served it: the properties of one
// (node, datetime, sensor, feature) grouped into Results, in Plenario's
// order of keys.
type Observation struct {
	Node     string             `json:"node"`
	MetaID   uint32             `json:"meta_id"` // see MetaIDs
	Datetime string             `json:"datetime"`
	Sensor   string             `json:"sensor"`
	Feature  string             `json:"feature"`
	Results  map[string]float64 `json:"results"`
}

// Row is one observed value: a row of the observations table.
type Row struct {
	Node     string
	TS       time.Time
	Sensor   string
	Feature  string
	Property string
	Value    float64
}
