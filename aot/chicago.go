package aot

import (
	"bytes"
	_ "embed" // the Chicago metadata
)

// The real metadata of the Array of Things Chicago deployment, as the
// waggle-sensor project published it for AoT_Chicago.complete: the demo
// network sits on these nodes, and tests build digests from them.
var (
	//go:embed chicago/nodes.csv
	ChicagoNodesCSV []byte
	//go:embed chicago/sensors.csv
	ChicagoSensorsCSV []byte
)

// ChicagoNodes returns the Chicago nodes, in nodes.csv's order.
func ChicagoNodes() []NodeRecord {
	n, err := ParseNodes(bytes.NewReader(ChicagoNodesCSV))
	if err != nil {
		panic(err) // the embedded file is read by the tests
	}
	return n
}
