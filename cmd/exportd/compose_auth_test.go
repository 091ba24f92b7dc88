package main

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/plenario-next/exportd/schema"
)

// composeSecrets stand for what scripts/nats-secrets.sh writes to .env.
var composeSecrets = map[string]string{
	"NATS_EXPORTD_PASSWORD":    "exportd-secret",
	"NATS_SUBSCRIBER_PASSWORD": "subscriber-secret",
	"NATS_ROUTE_PASSWORD":      "route-secret",
}

var composeVar = regexp.MustCompile(`\$\{([A-Z_]+)(:\?[^}]*)?\}`)

// interpolate does what docker compose does to ${VAR} and ${VAR:?message}
// with composeSecrets as the environment; any other variable fails.
func interpolate(t *testing.T, s string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		name := composeVar.FindStringSubmatch(m)[1]
		v, ok := composeSecrets[name]
		if !ok {
			t.Errorf("compose.yaml uses ${%s}, which scripts/nats-secrets.sh does not write", name)
		}
		return v
	})
}

// natsCommand is a NATS service's command with the config file it mounts
// read from the repository instead of the container.
func natsCommand(s composeService) []string {
	cmd := slices.Clone(s.Command)
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], "./") {
			continue
		}
		for i, a := range cmd {
			if a == parts[1] {
				cmd[i] = filepath.Join("../..", parts[0])
			}
		}
	}
	return cmd
}

// checkNATSAuth: every node requires a password of every client and route,
// knows exportd and a subscriber that can only read events, publishes its
// client port on loopback at most, and exportd's services log in as
// exportd with the password the nodes have.
func checkNATSAuth(t *testing.T, c composeFile, nodes []natsNode) {
	t.Helper()
	for _, n := range nodes {
		o := n.opts
		users := map[string]*server.User{}
		for _, u := range o.Users {
			users[u.Username] = u
		}
		if o.NoAuthUser != "" || len(users) == 0 || o.Username != "" || o.Authorization != "" {
			t.Errorf("%s: users %v, no-auth user %q: want only the users of deploy/nats/exportd.conf", n.service, o.Users, o.NoAuthUser)
		}
		if u := users["exportd"]; u == nil || u.Password != composeSecrets["NATS_EXPORTD_PASSWORD"] || u.Permissions != nil {
			t.Errorf("%s: user exportd %+v, want the password of NATS_EXPORTD_PASSWORD and every permission", n.service, u)
		}
		sub := users["subscriber"]
		if sub == nil || sub.Password != composeSecrets["NATS_SUBSCRIBER_PASSWORD"] || sub.Permissions == nil ||
			sub.Permissions.Publish == nil || !slices.Equal(sub.Permissions.Publish.Deny, []string{">"}) ||
			sub.Permissions.Subscribe == nil || !slices.Equal(sub.Permissions.Subscribe.Allow, []string{schema.EventSubjectAll}) {
			t.Errorf("%s: user subscriber %+v, want publishing denied and subscribing to %s only", n.service, sub, schema.EventSubjectAll)
		}
		if o.Cluster.Username == "" || o.Cluster.Password != composeSecrets["NATS_ROUTE_PASSWORD"] {
			t.Errorf("%s: cluster user %q: want routes authenticated with NATS_ROUTE_PASSWORD", n.service, o.Cluster.Username)
		}
		for _, r := range o.Routes {
			if pw, _ := r.User.Password(); r.User == nil || r.User.Username() != o.Cluster.Username || pw != o.Cluster.Password {
				t.Errorf("%s: route to %s without the route credentials", n.service, r.Host)
			}
		}
		for _, p := range c.Services[n.service].Ports {
			if strings.HasSuffix(p, ":4222") && !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: publishes %s: the client port beyond loopback", n.service, p)
			}
		}
	}
	for name, s := range c.Services {
		if s.Build == nil || len(s.Command) == 0 || (s.Command[0] != "gateway" && s.Command[0] != "exporter") {
			continue
		}
		if s.Environment["EXPORTD_NATS_USER"] != "exportd" || s.Environment["EXPORTD_NATS_PASSWORD"] != composeSecrets["NATS_EXPORTD_PASSWORD"] {
			t.Errorf("%s: NATS user %q: want exportd with NATS_EXPORTD_PASSWORD", name, s.Environment["EXPORTD_NATS_USER"])
		}
	}
}
