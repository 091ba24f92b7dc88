package app

import (
	"log/slog"
	"net"
)

// warnForgeableLinks logs, at start, that result links can be forged: with
// no EXPORTD_URL_ROOT they take each submit's Host header, and a listener
// beyond loopback takes requests from clients who may send any Host.
func warnForgeableLinks(logger *slog.Logger, urlRoot string, addr net.Addr) {
	if forgeableLinks(urlRoot, addr) {
		logger.Warn("EXPORTD_URL_ROOT is unset and the API listens beyond loopback: result links take each request's Host header, "+
			"which any client can forge to point another client's links elsewhere; set EXPORTD_URL_ROOT (--url-root) to the public address",
			"http", addr.String())
	}
}

// forgeableLinks reports whether links take the request's Host (no URL
// root) on a listener that is not loopback only.
func forgeableLinks(urlRoot string, addr net.Addr) bool {
	if urlRoot != "" {
		return false
	}
	tcp, ok := addr.(*net.TCPAddr)
	return !ok || !tcp.IP.IsLoopback()
}
