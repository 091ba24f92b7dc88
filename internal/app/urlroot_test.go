package app

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
)

func TestWarnForgeableLinks(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 8080} }
	tests := []struct {
		name    string
		urlRoot string
		addr    net.Addr
		want    bool
	}{
		{"loopback v4", "", tcp("127.0.0.1"), false},
		{"loopback v4 elsewhere in 127/8", "", tcp("127.0.0.53"), false},
		{"loopback v6", "", tcp("::1"), false},
		{"every interface", "", tcp("0.0.0.0"), true},
		{"every interface v6", "", tcp("::"), true},
		{"a LAN address", "", tcp("192.168.1.10"), true},
		{"a URL root, every interface", "https://exports.example.org/", tcp("0.0.0.0"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			warnForgeableLinks(slog.New(slog.NewTextHandler(&buf, nil)), tt.urlRoot, tt.addr)
			got := strings.Contains(buf.String(), "EXPORTD_URL_ROOT is unset")
			if got != tt.want {
				t.Fatalf("warned %v, want %v: %q", got, tt.want, buf.String())
			}
			if got && !strings.Contains(buf.String(), "level=WARN") {
				t.Fatalf("got %q, want a warning", buf.String())
			}
		})
	}
}
