-- /aggregate's rollup: each UTC hour's count, avg, min, max and sample
-- variance of a node's sensor's feature's property, as aggregate states
-- (AggregatingMergeTree merges them). Kept by the materialized view below on
-- every INSERT into observations; a load's attach, which no view sees, adds
-- its month's states itself, and chstore.Open backfills a database that had
-- observations before the rollup (see chstore/rollup.go). Ordered by node
-- and feature, so that one node's feature over days reads a few granules
-- instead of every row of the window (2 ms of ClickHouse CPU against 2.1 s
-- for the bench's week of 20 M rows).
CREATE TABLE IF NOT EXISTS observations_hourly (
    network   String,
    node_id   String,
    sensor    String,
    feature   String,
    property  String,
    hour      DateTime,
    n_state   AggregateFunction(count),
    avg_state AggregateFunction(avg, Float64),
    min_state AggregateFunction(min, Float64),
    max_state AggregateFunction(max, Float64),
    var_state AggregateFunction(varSampStable, Float64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (network, node_id, feature, property, hour, sensor);
-- The hour is UTC arithmetic, as /aggregate's buckets are, whatever the
-- server's time zone. chstore's hourlySelect is the same SELECT.
CREATE MATERIALIZED VIEW IF NOT EXISTS observations_hourly_mv TO observations_hourly AS
SELECT network, node_id, sensor, feature, property, toDateTime(intDiv(toUInt32(ts), 3600) * 3600) AS hour,
    countState() AS n_state, avgState(value) AS avg_state, minState(value) AS min_state,
    maxState(value) AS max_state, varSampStableState(value) AS var_state
FROM observations
GROUP BY network, node_id, sensor, feature, property, hour
