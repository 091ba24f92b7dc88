package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/app"
	"github.com/plenario-next/exportd/webhook"
)

// Config is everything a process needs, from flags with environment
// fallbacks.
type Config struct {
	Role           string // serve, gateway or exporter
	HTTPAddr       string
	URLRoot        string
	ClickHouseAddr string
	ClickHouseDB   string
	NATSURL        string // empty: start an embedded server
	NATSListen     string
	NATS           natsSettings // credentials and TLS
	DataDir        string
	Retention      time.Duration
	Replicas       int
	Concurrency    int
	PartRows       int64
	DemoNetwork    string
	DemoRows       int64
	Load           string // an AoT digest loaded at start (serve only)
	LogFormat      string
	LogLevel       string
	MetricsAddr    string // a separate listener for /metrics, /healthz, /readyz; empty: none
	APIKeys        []string
	MaxActive      int
	IdemWindow     time.Duration
	PartAckWait    time.Duration
	MaxAttempts    int
	// OutageTolerance: how long ClickHouse or NATS may be unavailable
	// before a job fails; negative: not at all.
	OutageTolerance time.Duration
	// ResultMaxBytes limits the result store; 0: half the room of an
	// embedded server's disk, or, on an external NATS, the limit the
	// stores have.
	ResultMaxBytes int64
	QueryLimits    gateway.QueryLimits
	SSEHeartbeat   time.Duration
	Webhooks       webhookSettings
}

// webhookSettings are app.WebhookSettings, parsed here.
type webhookSettings = app.WebhookSettings

// env is one setting: its flag, its environment variable and its default.
type env struct {
	flag, name, def, help string
}

var settings = []env{
	{"http", "EXPORTD_HTTP_ADDR", "127.0.0.1:8080", "address the HTTP API listens on"},
	{"url-root", "EXPORTD_URL_ROOT", "", "prefix of result links, e.g. https://exports.example.org/ (default: the request's Host)"},
	{"clickhouse", "EXPORTD_CLICKHOUSE_ADDR", chstore.DefaultAddr, "ClickHouse native protocol address"},
	{"clickhouse-db", "EXPORTD_CLICKHOUSE_DB", chstore.DefaultDatabase, "ClickHouse database"},
	{"nats", "EXPORTD_NATS_URL", "", "NATS server or cluster URLs; empty starts an embedded server (serve) or uses nats://127.0.0.1:4222"},
	{"nats-listen", "EXPORTD_NATS_LISTEN", "127.0.0.1:4222", "where the embedded NATS server takes clients"},
	{"nats-user", "EXPORTD_NATS_USER", "", "user name on an external NATS server (with EXPORTD_NATS_PASSWORD)"},
	{"nats-password", "EXPORTD_NATS_PASSWORD", "", "password of EXPORTD_NATS_USER (prefer the environment to the flag: flags show in ps)"},
	{"nats-nkey", "EXPORTD_NATS_NKEY", "", "file holding an nkey seed to authenticate to an external NATS server with"},
	{"nats-creds", "EXPORTD_NATS_CREDS", "", "credentials file (user JWT and nkey seed) for an external NATS server in operator mode"},
	{"nats-ca", "EXPORTD_NATS_CA", "", "PEM file of the CA that signed the external NATS server's certificate (turns TLS on)"},
	{"nats-cert", "EXPORTD_NATS_CERT", "", "client certificate (PEM) for NATS servers that verify clients, with EXPORTD_NATS_KEY"},
	{"nats-key", "EXPORTD_NATS_KEY", "", "private key (PEM) of EXPORTD_NATS_CERT"},
	{"nats-listen-cert", "EXPORTD_NATS_LISTEN_CERT", "", "certificate (PEM) of the embedded NATS server: with EXPORTD_NATS_LISTEN_KEY, its clients must use TLS"},
	{"nats-listen-key", "EXPORTD_NATS_LISTEN_KEY", "", "private key (PEM) of EXPORTD_NATS_LISTEN_CERT"},
	{"data", "EXPORTD_DATA_DIR", ".data", "data directory (embedded NATS storage under nats/)"},
	{"retention", "EXPORTD_RETENTION", events.DefaultRetention.String(), "how long results, job documents and events are kept"},
	{"replicas", "EXPORTD_REPLICAS", "1", "JetStream replicas of streams, KV and object store (3 on a cluster)"},
	{"concurrency", "EXPORTD_CONCURRENCY", strconv.Itoa(runtime.NumCPU()), "partitions exported at once by this process"},
	{"part-rows", "EXPORTD_PART_ROWS", strconv.Itoa(exporter.DefaultPartRows), "target rows per partition"},
	{"demo-network", "EXPORTD_DEMO_NETWORK", "array_of_things", "demo network loaded when ClickHouse has no data (serve only; empty: none)"},
	{"demo-rows", "EXPORTD_DEMO_ROWS", "1000000", "rows of the demo network"},
	{"load", "EXPORTD_LOAD", "", "an Array of Things digest (directory, .tar or data.csv.gz) loaded in the background at start unless its network has data from a finished load (serve only)"},
	{"api-keys", "EXPORTD_API_KEYS", "", "comma-separated API keys; when set, every endpoint but health needs Authorization: Bearer <key>"},
	{"max-active", "EXPORTD_MAX_ACTIVE", strconv.Itoa(gateway.DefaultMaxActive), "queued or running jobs one client may have (0: no limit)"},
	{"idempotency-window", "EXPORTD_IDEMPOTENCY_WINDOW", events.DefaultIdemWindow.String(), "a repeated request returns the same ticket within this window"},
	{"part-ack-wait", "EXPORTD_PART_ACK_WAIT", events.DefaultPartAckWait.String(), "a partition, request or event whose process went silent this long goes to another process"},
	{"max-attempts", "EXPORTD_MAX_ATTEMPTS", strconv.Itoa(events.DefaultMaxDeliver), "deliveries of a request or partition before its job fails"},
	{"outage-tolerance", "EXPORTD_OUTAGE_TOLERANCE", events.DefaultOutageTolerance.String(), "how long ClickHouse or NATS may be unavailable before a running job fails (retried meanwhile, no attempt counted; 0: fail by attempts alone)"},
	{"result-max-bytes", "EXPORTD_RESULT_MAX_BYTES", "", "byte limit of the result store, e.g. 50GB (default: with the embedded NATS, half of the free space and what NATS holds at start; else the limit it has)"},
	{"query-per-client", "EXPORTD_QUERY_PER_CLIENT", strconv.Itoa(gateway.DefaultQueryPerClient), "/query requests one client may run at once (beyond: 429)"},
	{"query-total", "EXPORTD_QUERY_TOTAL", strconv.Itoa(gateway.DefaultQueryTotal), "/query requests this gateway runs at once (beyond: 503)"},
	{"query-timeout", "EXPORTD_QUERY_TIMEOUT", gateway.DefaultQueryTimeout.String(), "time limit of a /query request in ClickHouse (max_execution_time; beyond: 503)"},
	{"sse-heartbeat", "EXPORTD_SSE_HEARTBEAT", gateway.DefaultSSEHeartbeat.String(), "how often an idle /jobs/{ticket}/events stream sends a heartbeat comment"},
	{"webhook-allow", "EXPORTD_WEBHOOK_ALLOW", "", "comma-separated CIDRs webhooks may call besides public addresses, e.g. 127.0.0.0/8 (then http URLs too); default: https to public addresses only"},
	{"webhook-timeout", "EXPORTD_WEBHOOK_TIMEOUT", webhook.DefaultTimeout.String(), "how long one webhook delivery attempt may take (at most 25s)"},
	{"webhook-backoff", "EXPORTD_WEBHOOK_BACKOFF", events.DefaultWebhookBackoff.String(), "wait after a webhook delivery's first failure, doubled after each further one"},
	{"webhook-max-backoff", "EXPORTD_WEBHOOK_MAX_BACKOFF", events.DefaultWebhookMaxBackoff.String(), "longest wait between two attempts of one webhook delivery"},
	{"webhook-max-age", "EXPORTD_WEBHOOK_MAX_AGE", events.DefaultWebhookMaxAge.String(), "an event not delivered to a webhook this long after it was published is given up"},
	{"webhook-max-endpoints", "EXPORTD_WEBHOOK_MAX_ENDPOINTS", strconv.Itoa(gateway.DefaultMaxWebhooks), "webhook endpoints one client may register"},
	{"log-format", "EXPORTD_LOG_FORMAT", "auto", "json, text, or auto (json unless stderr is a terminal)"},
	{"log-level", "EXPORTD_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"metrics", "EXPORTD_METRICS_ADDR", "", "separate listener for /metrics, /healthz and /readyz, e.g. :9090 for an exporter (the API serves them too)"},
}

func parseConfig(role string, args []string, getenv func(string) string, out io.Writer) (Config, error) {
	fs := flag.NewFlagSet("exportd "+role, flag.ContinueOnError)
	fs.SetOutput(out)
	vals := map[string]*string{}
	for _, s := range settings {
		def := s.def
		if v := getenv(s.name); v != "" {
			def = v
		}
		vals[s.flag] = fs.String(s.flag, def, s.help+" ($"+s.name+")")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c := Config{Role: role, HTTPAddr: *vals["http"], URLRoot: *vals["url-root"], ClickHouseAddr: *vals["clickhouse"],
		ClickHouseDB: *vals["clickhouse-db"], NATSURL: *vals["nats"], NATSListen: *vals["nats-listen"], DataDir: *vals["data"],
		DemoNetwork: *vals["demo-network"], LogFormat: *vals["log-format"], LogLevel: *vals["log-level"]}
	c.MetricsAddr, c.Load = *vals["metrics"], *vals["load"]
	var err error
	if c.Retention, err = time.ParseDuration(*vals["retention"]); err != nil || c.Retention <= 0 {
		return c, fmt.Errorf("bad retention %q", *vals["retention"])
	}
	if c.Replicas, err = strconv.Atoi(*vals["replicas"]); err != nil || c.Replicas < 1 || c.Replicas > 5 {
		return c, fmt.Errorf("bad replicas %q", *vals["replicas"])
	}
	if c.Concurrency, err = strconv.Atoi(*vals["concurrency"]); err != nil || c.Concurrency < 1 {
		return c, fmt.Errorf("bad concurrency %q", *vals["concurrency"])
	}
	if c.PartRows, err = strconv.ParseInt(*vals["part-rows"], 10, 64); err != nil || c.PartRows < 1 {
		return c, fmt.Errorf("bad part-rows %q", *vals["part-rows"])
	}
	if c.DemoRows, err = strconv.ParseInt(*vals["demo-rows"], 10, 64); err != nil || c.DemoRows < 0 {
		return c, fmt.Errorf("bad demo-rows %q", *vals["demo-rows"])
	}
	for _, k := range strings.Split(*vals["api-keys"], ",") {
		if k = strings.TrimSpace(k); k != "" {
			c.APIKeys = append(c.APIKeys, k)
		}
	}
	if c.MaxActive, err = strconv.Atoi(*vals["max-active"]); err != nil || c.MaxActive < 0 {
		return c, fmt.Errorf("bad max-active %q", *vals["max-active"])
	}
	if c.IdemWindow, err = time.ParseDuration(*vals["idempotency-window"]); err != nil || c.IdemWindow <= 0 {
		return c, fmt.Errorf("bad idempotency-window %q", *vals["idempotency-window"])
	}
	if c.PartAckWait, err = time.ParseDuration(*vals["part-ack-wait"]); err != nil || c.PartAckWait < time.Second {
		return c, fmt.Errorf("bad part-ack-wait %q (at least 1s)", *vals["part-ack-wait"])
	}
	if c.MaxAttempts, err = strconv.Atoi(*vals["max-attempts"]); err != nil || c.MaxAttempts < 1 {
		return c, fmt.Errorf("bad max-attempts %q", *vals["max-attempts"])
	}
	if c.OutageTolerance, err = time.ParseDuration(*vals["outage-tolerance"]); err != nil || c.OutageTolerance < 0 {
		return c, fmt.Errorf("bad outage-tolerance %q", *vals["outage-tolerance"])
	}
	if c.OutageTolerance == 0 {
		c.OutageTolerance = -1 // events.Config: none
	}
	if v := *vals["result-max-bytes"]; v != "" {
		if c.ResultMaxBytes, err = parseBytes(v); err != nil || c.ResultMaxBytes < 1 {
			return c, fmt.Errorf("bad result-max-bytes %q (a size such as 50GB)", v)
		}
	}
	if c.QueryLimits.PerClient, err = strconv.Atoi(*vals["query-per-client"]); err != nil || c.QueryLimits.PerClient < 1 {
		return c, fmt.Errorf("bad query-per-client %q", *vals["query-per-client"])
	}
	if c.QueryLimits.Total, err = strconv.Atoi(*vals["query-total"]); err != nil || c.QueryLimits.Total < 1 {
		return c, fmt.Errorf("bad query-total %q", *vals["query-total"])
	}
	if c.QueryLimits.Timeout, err = time.ParseDuration(*vals["query-timeout"]); err != nil || c.QueryLimits.Timeout < time.Second {
		return c, fmt.Errorf("bad query-timeout %q (at least 1s)", *vals["query-timeout"])
	}
	if c.SSEHeartbeat, err = time.ParseDuration(*vals["sse-heartbeat"]); err != nil || c.SSEHeartbeat < 100*time.Millisecond {
		return c, fmt.Errorf("bad sse-heartbeat %q (at least 100ms)", *vals["sse-heartbeat"])
	}
	if c.Webhooks, err = parseWebhookSettings(vals); err != nil {
		return c, err
	}
	if c.URLRoot != "" && c.URLRoot[len(c.URLRoot)-1] != '/' {
		c.URLRoot += "/"
	}
	if c.NATS, err = parseNATSSettings(vals, c.NATSURL == "" && role == "serve"); err != nil {
		return c, err
	}
	if c.NATSURL == "" && role != "serve" {
		c.NATSURL = "nats://" + c.NATSListen
	}
	return c, nil
}
