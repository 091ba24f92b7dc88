// Package schema holds exportd's contracts and nothing else: the query syntax
// of Plenario's sensor-network API (parse, default, validate), the metadata
// shapes, the job document and how events fold into it, the event payloads and
// their subjects, the file formats, the ClickHouse DDL and the error codes that
// decide both an HTTP status and a JetStream ack.
//
// It does no I/O and imports none of exportd's other packages, so the
// gateway, the exporter and the projector agree on one definition of each.
package schema
