// Package faults holds exportd's fault tests (issue 4): real exporter and
// exportd processes killed with SIGKILL, a whole service restarted on its
// data directory, a node of a three-node NATS cluster shut down, a
// ClickHouse stopped mid-job, and a burst of a thousand requests. Every
// test runs on the real components (ClickHouse, nats-server, the exportd
// binary built once per run) and checks what a user would notice: every
// job finishes, and each download equals the direct ClickHouse query.
package faults
