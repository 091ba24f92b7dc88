-- One row per observed value, as Array of Things published them. Ordered by
-- time inside a network, so an export's time slices are contiguous ranges.
CREATE TABLE IF NOT EXISTS observations (
    network  String,
    node_id  String,
    ts       DateTime,
    sensor   String,
    feature  String,
    property String,
    value    Float64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (network, ts, node_id, sensor, feature, property)
