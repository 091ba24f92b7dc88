-- Progress of `exportd load`, one row per network: every reading of the
-- network with ts < loaded_until is stored, exactly once. A load stages
-- each month of readings in a table of its own and attaches it to
-- observations whole (ATTACH PARTITION … FROM), then moves loaded_until
-- past it; see chstore/load.go. ReplacingMergeTree keeps the last version;
-- readers use FINAL.
CREATE TABLE IF NOT EXISTS loads (
    network      String,
    project      String,
    loaded_until DateTime,
    info         String,
    version      UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY network
