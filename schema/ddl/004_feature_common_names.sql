-- A feature property's label for people ("Magnetic field X"), beside its
-- name, type and unit: Plenario's explorer shows only the properties that
-- have one. ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: chstore.Open
-- takes "column already exists" as this statement done.
ALTER TABLE features ADD COLUMN common_names Array(String) AFTER units
