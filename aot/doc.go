// Package aot reads the digests the Array of Things project published
// (AoT_Chicago.complete.*.tar: data.csv.gz, nodes.csv, sensors.csv,
// provenance.csv): their metadata as a schema.Network, their observations as
// a stream of schema.Rows. It knows the published format and its quirks (NA
// values, text values, quoted fields, repeated lines) and nothing of
// ClickHouse: chstore stores what it reads.
package aot
