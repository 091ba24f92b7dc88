package app_test

import (
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/plenario-next/exportd/"

// goList returns each package of the module with the import paths that
// field (Imports: direct, Deps: transitive) of `go list` names, production
// files only.
func goList(t *testing.T, field string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join ."+field+" \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkgs[strings.TrimPrefix(f[0], module)] = f[1:]
	}
	return pkgs
}

func imports(list []string, prefix string) bool {
	for _, p := range list {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

// natsClients may import nats.go (or its jetstream package) besides
// events, which owns JetStream for the service, each with the reason. The
// service's own packages speak events' types (Delivery, StoredPart,
// JobChange, ConsumerLag) instead; internal/natsauth describes identities
// with nats-server's types and ours.
var natsClients = map[string]string{
	"events":           "the one owner of JetStream: streams, consumers, stores, the connection",
	"cmd/benchexport":  "an outside client of exportd: it subscribes to the events to time jobs, as a user would",
	"internal/latency": "an outside client of exportd: it measures a job's events as a subscriber sees them",
	"internal/testenv": "tests' own raw client of the service's NATS, to look at and break what the Bus keeps sealed",
}

// TestImportRules checks the house's import rules (docs/architecture.md):
// one package owns ClickHouse's driver and one nats.go (natsClients), the
// contracts import no driver and nothing of ours, the gateway and the
// exporter never import each other, and cmd/exportd wires through
// internal/app without touching a driver.
func TestImportRules(t *testing.T) {
	direct, deps := goList(t, "Imports"), goList(t, "Deps")
	if len(direct) < 10 {
		t.Fatalf("go list found %d packages, want the whole module", len(direct))
	}
	const clickhouse, natsClient, natsServer = "github.com/ClickHouse/clickhouse-go", "github.com/nats-io/nats.go", "github.com/nats-io/nats-server"
	if !imports(direct["chstore"], clickhouse) || !imports(deps["cmd/exportd"], module+"internal/app") {
		t.Fatalf("go list output not understood: chstore imports %v", direct["chstore"])
	}
	for pkg, list := range direct {
		// testenv queries ClickHouse directly, to check the service against it.
		if imports(list, clickhouse) && pkg != "chstore" && pkg != "internal/testenv" {
			t.Errorf("%s imports clickhouse-go; only chstore may (benchexport prints the export SQL with chstore.ExportSQL and chstore.InlineSQL)", pkg)
		}
	}
	if !imports(direct["events"], natsClient) {
		t.Fatalf("go list output not understood: events imports %v", direct["events"])
	}
	for pkg, list := range direct {
		if _, ok := natsClients[pkg]; imports(list, natsClient) && !ok {
			t.Errorf("%s imports nats.go; only events may (and %v): use events' methods and types", pkg, slices.Sorted(maps.Keys(natsClients)))
		}
	}
	for _, p := range direct["schema"] {
		if strings.HasPrefix(p, module) || imports([]string{p}, clickhouse) || strings.HasPrefix(p, "github.com/nats-io/") {
			t.Errorf("schema imports %s; it is the contracts, no driver and none of our packages", p)
		}
	}
	if imports(deps["gateway"], module+"exporter") {
		t.Error("gateway depends on exporter")
	}
	if imports(deps["exporter"], module+"gateway") {
		t.Error("exporter depends on gateway")
	}
	for _, d := range []string{clickhouse, natsClient, natsServer} {
		if imports(direct["cmd/exportd"], d) {
			t.Errorf("cmd/exportd imports %s; the wiring is internal/app", d)
		}
	}
}
