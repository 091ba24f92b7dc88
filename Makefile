# exportd developer targets. ClickHouse is managed by scripts/clickhouse.sh (data in .data/).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO ?= go
CLICKHOUSE := scripts/clickhouse.sh

EXPORTD_CLICKHOUSE_PORT ?= 19000
EXPORTD_CLICKHOUSE_ADDR ?= 127.0.0.1:$(EXPORTD_CLICKHOUSE_PORT)
export EXPORTD_CLICKHOUSE_ADDR

.PHONY: all run test bench build clickhouse-start clickhouse-stop clickhouse-status clean

all: build

# Built, then exec'd: Ctrl-C reaches exportd itself, which shuts down cleanly
# and exits 0 (go run would report the interrupt as a failure).
run: clickhouse-start build
	exec bin/exportd serve

test: clickhouse-start
	$(GO) test -count=1 -timeout 20m ./...

# Exports BENCH_ROWS (default 20M) rows through exportd and through clickhouse-client, side by side;
# see BENCHMARKS.md. BENCH_ROWS=2000000 for a quick run.
bench: clickhouse-start
	$(GO) run ./cmd/benchexport

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
