-- Sensor-network metadata. ReplacingMergeTree keeps the last version of a
-- row; readers use FINAL.
CREATE TABLE IF NOT EXISTS networks (
    name    String,
    info    String,
    version UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY name;
CREATE TABLE IF NOT EXISTS nodes (
    network String,
    id      String,
    lon     Float64,
    lat     Float64,
    address String,
    sensors Array(String),
    info    String,
    version UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY (network, id);
CREATE TABLE IF NOT EXISTS sensors (
    network    String,
    name       String,
    properties Array(String),
    info       String,
    version    UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY (network, name);
CREATE TABLE IF NOT EXISTS features (
    network    String,
    name       String,
    properties Array(String),
    types      Array(String),
    units      Array(String),
    version    UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY (network, name)
