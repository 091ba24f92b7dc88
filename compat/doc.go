// Package compat holds no code: its tests are an outside check of the
// whole Plenario-compatible API, written from Plenario's own test suite
// (tests/test_sensor_network*/test_sensor_networks.py, tests/test_api/
// test_jobs.py) and its web client (plenario-explorer), run on a network
// shaped like Plenario's test fixtures. Each subtest is named after the
// Plenario test or client call it comes from; where we answer otherwise on
// purpose, the check asserts what we do and cites ../shared/PLENARIO.md.
package compat
