# exportd developer targets. ClickHouse is managed by scripts/clickhouse.sh (data in .data/).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO ?= go
CLICKHOUSE := scripts/clickhouse.sh

EXPORTD_CLICKHOUSE_PORT ?= 19000
EXPORTD_CLICKHOUSE_ADDR ?= 127.0.0.1:$(EXPORTD_CLICKHOUSE_PORT)
export EXPORTD_CLICKHOUSE_ADDR

.PHONY: all run test bench build duckdb bigendian clickhouse-start clickhouse-stop clickhouse-status clean

all: build

# Built, then exec'd: Ctrl-C reaches exportd itself, which shuts down cleanly
# and exits 0 (go run would report the interrupt as a failure).
run: clickhouse-start build
	exec bin/exportd serve

# EXPORTD_REQUIRE_DUCKDB: the checks that read results with DuckDB fail, not skip, without it.
test: clickhouse-start duckdb
	EXPORTD_REQUIRE_DUCKDB=1 $(GO) test -count=1 -timeout 20m ./...
	$(MAKE) bigendian

# The result package's byte-level tests on s390x under qemu-user (scripts/bigendian.sh).
bigendian:
	GO=$(GO) scripts/bigendian.sh

# Exports BENCH_ROWS (default 20M) rows through exportd and through clickhouse-client, side by side;
# see BENCHMARKS.md. BENCH_ROWS=2000000 for a quick run.
bench: clickhouse-start
	$(GO) run ./cmd/benchexport

# DuckDB (its Node.js package) reads our CSV, JSON and Parquet in tests, as a reader nobody here wrote.
duckdb: internal/duckdb/node_modules/.package-lock.json

internal/duckdb/node_modules/.package-lock.json: internal/duckdb/package.json internal/duckdb/package-lock.json
	command -v npm >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; }
	npm ci --prefix internal/duckdb --no-audit --no-fund
	touch $@

build:
	$(GO) build -o bin/exportd ./cmd/exportd

clickhouse-start:
	$(CLICKHOUSE) start

clickhouse-stop:
	$(CLICKHOUSE) stop

clickhouse-status:
	$(CLICKHOUSE) status

# Stops the ClickHouse started from the data dir, then removes .data and bin.
clean: clickhouse-stop
	rm -rf .data bin
