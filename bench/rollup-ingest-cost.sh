#!/bin/bash
# What the hourly rollup's materialized view costs an insert, by its aggregate states:
# copies 3 days of exportd_bench.observations into a scratch database with no view, the
# view as it is, and cheaper variants (BENCHMARKS.md, "Last run"). Needs the bench database.
set -e
C="clickhouse-client --port 19000"
$C -q "DROP DATABASE IF EXISTS mvexp"
$C -q "CREATE DATABASE mvexp"
run() { # name, mv select states
  $C -d mvexp -q "DROP TABLE IF EXISTS obs"; $C -d mvexp -q "DROP TABLE IF EXISTS roll"; $C -d mvexp -q "DROP TABLE IF EXISTS mv"
  $C -d mvexp -q "CREATE TABLE obs AS exportd_bench.observations"
  if [ -n "$2" ]; then
    $C -d mvexp -q "CREATE TABLE roll ENGINE = AggregatingMergeTree() PARTITION BY toYYYYMM(hour) ORDER BY (network, node_id, feature, property, hour, sensor) AS SELECT network, node_id, sensor, feature, property, toDateTime(intDiv(toUInt32(ts), 3600) * 3600) AS hour, $2 FROM exportd_bench.observations WHERE 0 GROUP BY network, node_id, sensor, feature, property, hour"
    $C -d mvexp -q "CREATE MATERIALIZED VIEW mv TO roll AS SELECT network, node_id, sensor, feature, property, toDateTime(intDiv(toUInt32(ts), 3600) * 3600) AS hour, $2 FROM obs GROUP BY network, node_id, sensor, feature, property, hour"
  fi
  for i in 1 2 3; do
    s=$(date +%s.%N)
    $C -d mvexp -q "INSERT INTO obs SELECT * FROM exportd_bench.observations WHERE ts < toDateTime(1766703600) + 3*86400 SETTINGS max_threads=1"
    e=$(date +%s.%N)
    echo "$1 run $i $(echo "$e - $s" | bc) s"
    $C -d mvexp -q "TRUNCATE TABLE obs"; [ -n "$2" ] && $C -d mvexp -q "TRUNCATE TABLE roll" || true
  done
}
$C -q "SELECT count() FROM exportd_bench.observations WHERE ts < toDateTime(1766703600) + 3*86400"
run none ""
run full "countState() AS n_state, avgState(value) AS avg_state, minState(value) AS min_state, maxState(value) AS max_state, varSampStableState(value) AS var_state"
run novar "countState() AS n_state, avgState(value) AS avg_state, minState(value) AS min_state, maxState(value) AS max_state"
run sums "countState() AS n_state, sumState(value) AS s_state, minState(value) AS min_state, maxState(value) AS max_state, sumState(value*value) AS q_state"
run countonly "countState() AS n_state"
$C -q "DROP DATABASE mvexp"
