package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"
)

// The deployment files this test reads, from the repository root.
const (
	composePath    = "../../compose.yaml"
	dockerfilePath = "../../Dockerfile"
	promPath       = "../../deploy/prometheus/prometheus.yml"
)

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Expose      []string          `yaml:"expose"`
	Profiles    []string          `yaml:"profiles"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for name, s := range c.Services {
		for i := range s.Command {
			s.Command[i] = interpolate(t, s.Command[i])
		}
		for k, v := range s.Environment {
			s.Environment[k] = interpolate(t, v)
		}
		c.Services[name] = s
	}
	return c
}

// natsNode is a NATS service of the compose file, its command parsed by
// nats-server's own flag parser.
type natsNode struct {
	service string
	opts    *server.Options
}

// TestComposeDeployment checks compose.yaml against the binaries it runs:
// every exportd command and flag is one `exportd` accepts, every variable
// it sets is a setting exportd reads, the NATS nodes' flags parse with
// nats-server's own parser into one JetStream cluster, and the addresses
// each service is given point at services and ports that exist.
func TestComposeDeployment(t *testing.T) {
	c := loadCompose(t)

	// NATS: three JetStream nodes routing to each other.
	var nodes []natsNode
	for name, s := range c.Services {
		if !strings.HasPrefix(s.Image, "nats:2") {
			continue
		}
		fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		for k, v := range s.Environment { // what the node's config file reads
			t.Setenv(k, v)
		}
		opts, err := server.ConfigureOptions(fs, natsCommand(s), func() {}, func() {}, func() {})
		if err != nil || opts == nil {
			t.Fatalf("%s: nats-server refuses %q: %v", name, s.Command, err)
		}
		nodes = append(nodes, natsNode{name, opts})
	}
	if len(nodes) != 3 {
		t.Fatalf("got %d NATS services, want 3 (a cluster that survives one loss with R3 streams)", len(nodes))
	}
	names := map[string]bool{}
	for _, n := range nodes {
		o := n.opts
		if !o.JetStream || o.StoreDir == "" {
			t.Errorf("%s: JetStream %v with store %q, want JetStream on a volume", n.service, o.JetStream, o.StoreDir)
		}
		if names[o.ServerName] {
			t.Errorf("%s: server name %q is not unique", n.service, o.ServerName)
		}
		names[o.ServerName] = true
		if o.Cluster.Name != nodes[0].opts.Cluster.Name || o.Cluster.Name == "" {
			t.Errorf("%s: cluster name %q, want one name shared by all nodes", n.service, o.Cluster.Name)
		}
		var routed []string
		for _, r := range o.Routes {
			routed = append(routed, r.Host)
		}
		for _, m := range nodes {
			if m.service == n.service {
				continue
			}
			want := net.JoinHostPort(m.service, strconv.Itoa(m.opts.Cluster.Port))
			if !slices.Contains(routed, want) {
				t.Errorf("%s: routes %v do not reach %s", n.service, routed, want)
			}
		}
		if o.HTTPPort == 0 {
			t.Errorf("%s: no monitoring port: the healthcheck has nothing to ask", n.service)
		}
	}
	checkNATSAuth(t, c, nodes)
	natsClient := map[string]bool{}
	for _, n := range nodes {
		port := n.opts.Port
		if port == 0 {
			port = server.DEFAULT_PORT
		}
		natsClient[net.JoinHostPort(n.service, strconv.Itoa(port))] = true
	}

	// ClickHouse.
	ch, ok := c.Services["clickhouse"]
	if !ok || !strings.HasPrefix(ch.Image, "clickhouse/clickhouse-server:") {
		t.Fatalf("no clickhouse service on the clickhouse/clickhouse-server image")
	}

	dockerfile, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dockerfile, []byte(`ENTRYPOINT ["/exportd"]`)) {
		t.Fatalf("Dockerfile: want ENTRYPOINT [\"/exportd\"], so a service's command is exportd's arguments")
	}

	// exportd services.
	roles := map[string][]string{}
	for name, s := range c.Services {
		if s.Build == nil {
			continue
		}
		if s.Build.Context != "." || filepath.Join("../..", s.Build.Dockerfile) != filepath.Clean(dockerfilePath) {
			t.Errorf("%s: built from %+v, want this repository's Dockerfile", name, *s.Build)
		}
		if len(s.Command) == 0 {
			t.Errorf("%s: no command", name)
			continue
		}
		role := s.Command[0]
		roles[role] = append(roles[role], name)

		// The command and its flags are accepted: asking for help after
		// them parses them all first.
		var help bytes.Buffer
		err := run(context.Background(), append(slices.Clone(s.Command), "-h"), func(string) string { return "" }, &help)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: exportd %s: got %v, want a known command and flags", name, strings.Join(s.Command, " "), err)
			continue
		}
		for k := range s.Environment {
			if !strings.Contains(help.String(), "($"+k+")") {
				t.Errorf("%s: sets %s, which exportd %s does not read", name, k, role)
			}
		}
		if role != "gateway" && role != "exporter" && role != "serve" {
			continue
		}
		for _, dep := range []string{"clickhouse", nodes[0].service} {
			if s.DependsOn[dep].Condition != "service_healthy" {
				t.Errorf("%s: does not wait for %s to be healthy", name, dep)
			}
		}
		cfg, err := parseConfig(role, s.Command[1:], func(k string) string { return s.Environment[k] }, io.Discard)
		if err != nil {
			t.Errorf("%s: configuration refused: %v", name, err)
			continue
		}
		if cfg.Replicas != 3 {
			t.Errorf("%s: replicas %d, want 3 on a 3-node cluster", name, cfg.Replicas)
		}
		var reached []string
		for _, u := range strings.Split(cfg.NATSURL, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || !natsClient[pu.Host] {
				t.Errorf("%s: NATS URL %q names no NATS service's client port", name, u)
				continue
			}
			reached = append(reached, pu.Host)
		}
		if len(reached) != len(nodes) {
			t.Errorf("%s: NATS URLs %q, want all %d nodes, so any one can be lost", name, cfg.NATSURL, len(nodes))
		}
		if cfg.ClickHouseAddr != "clickhouse:9000" {
			t.Errorf("%s: ClickHouse at %q, want clickhouse:9000 (native protocol)", name, cfg.ClickHouseAddr)
		}
		switch role {
		case "gateway", "serve":
			wantListening(t, name, "HTTP API", cfg.HTTPAddr, s.Ports, true)
		case "exporter":
			if cfg.MetricsAddr == "" {
				t.Errorf("%s: no EXPORTD_METRICS_ADDR: its metrics cannot be scraped", name)
				continue
			}
			wantListening(t, name, "metrics", cfg.MetricsAddr, s.Expose, false)
		}
	}
	if len(roles["gateway"]) != 1 || len(roles["exporter"]) != 2 {
		t.Errorf("got gateways %v and exporters %v, want one gateway and two exporters", roles["gateway"], roles["exporter"])
	}
	if len(roles["seed"]) != 1 {
		t.Errorf("got seed services %v, want one (the demo data)", roles["seed"])
	}

	// Prometheus scrapes what the services serve.
	var prom struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	b, err := os.ReadFile(promPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &prom); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	for _, name := range append(slices.Clone(roles["gateway"]), roles["exporter"]...) {
		s := c.Services[name]
		cfg, _ := parseConfig(s.Command[0], s.Command[1:], func(k string) string { return s.Environment[k] }, io.Discard)
		addr := cfg.MetricsAddr
		if addr == "" {
			addr = cfg.HTTPAddr
		}
		_, port, _ := net.SplitHostPort(addr)
		if !slices.Contains(targets, net.JoinHostPort(name, port)) {
			t.Errorf("prometheus.yml: %s:%s is not scraped (targets %v)", name, port, targets)
		}
	}
}

// wantListening checks that addr listens beyond the container's loopback
// on a port the service publishes (ports) or exposes.
func wantListening(t *testing.T, service, what, addr string, ports []string, published bool) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("%s: %s address %q: %v", service, what, addr, err)
		return
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("%s: %s listens on %q: unreachable from outside the container", service, what, addr)
	}
	for _, p := range ports {
		if p == port || strings.HasSuffix(p, ":"+port) {
			return
		}
	}
	kind := "exposed"
	if published {
		kind = "published"
	}
	t.Errorf("%s: %s port %s is not %s (%v)", service, what, port, kind, ports)
}
