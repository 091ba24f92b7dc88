# syntax=docker/dockerfile:1

# ---- build ----
FROM golang:1.26 AS build
WORKDIR /src

# Module downloads are cached in their own layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/exportd ./cmd/exportd \
 && mkdir -p /out/data

# ---- runtime ----
# distroless/static has CA certificates and tzdata, no shell; runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /out/exportd /exportd
# Data dir (embedded NATS JetStream store lives in $EXPORTD_DATA_DIR/nats); writable by nonroot.
COPY --from=build --chown=65532:65532 /out/data /data

ENV EXPORTD_DATA_DIR=/data
# ClickHouse is not in the image: point EXPORTD_CLICKHOUSE_ADDR at a reachable server
# (the default 127.0.0.1:19000 is the container itself).
VOLUME ["/data"]
WORKDIR /data
USER nonroot:nonroot

ENTRYPOINT ["/exportd"]
CMD ["serve"]
