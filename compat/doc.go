// Package compat holds no code: its tests are an outside check of the
// whole Plenario-compatible API, written from Plenario's own test suite
// (tests/test_sensor_network*/test_sensor_networks.py, tests/test_api/
// test_jobs.py) and its web client (plenario-explorer), run on a network
// shaped like Plenario's test fixtures. Each subtest is named after the
// Plenario test or client call it comes from; where we answer otherwise on
// purpose, the check asserts what we do and cites ../shared/PLENARIO.md.
//
// Beyond Plenario, two readers the project relies on check the answers:
// a browser's CORS rules as the Fetch standard gives them (browser_test.go:
// preflights for the headers our clients send, and which answer headers a
// script may read), and Plenario's error shape for every client error of
// every route (errors_test.go).
//
// Where Plenario did something a client cannot rely on, we keep a clear
// 400 and TestKeptDifferent asserts it:
//   - /query's limit is 1 to 10000. Plenario's observation_query applied
//     "q.limit(limit) if limit", so that limit=0 meant no limit and nothing
//     bounded a larger one: an accident of a truth test, on the route
//     meant to be fast; /download takes any limit (0: no rows).
//   - A window with start_datetime not before end_datetime is a 400;
//     Plenario answered no rows (and its /download a job that never
//     reached success).
//   - /datadump's data_type must be a format we write, and it takes no
//     argument but data_type and follow; Plenario's get_datadump served
//     JSON for anything but csv and read nothing else, so that a mistyped
//     parquet, or data_typ=csv, would silently be JSON. No client of
//     Plenario's sent another (the explorer opened /datadump/{ticket}).
//
// And where we differ without a test, because no client reads it:
//   - meta.query of /query and request.query of a job echo the resolved
//     query (every node listed, all_nodes, and our own keys), not T's
//     validated arguments (offset: 0, query_fn, datadump_urlroot).
//   - A filter may not name meta_id: ours is derived from the node's
//     metadata when a row is written, not a stored column.
//   - T's filter valid_tree refused val null (so is and isnot never
//     worked); we take {"op":"isnot","prop":…,"val":null}.
package compat
