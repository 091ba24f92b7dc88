package gateway

import (
	"net"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// urlRoot is the prefix of the result links of a job submitted by this
// request: URLRoot, or without it the request's Host. A Host is whatever
// the client sent, so without URLRoot any client can have another host
// written into its job's links (README, "Result links"); what is not a
// host[:port] at all is refused rather than written into a link.
func (g *Gateway) urlRoot(ctx *fasthttp.RequestCtx) (string, error) {
	if g.URLRoot != "" {
		return g.URLRoot, nil
	}
	host := string(ctx.Host())
	if !validHost(host) {
		var p schema.Problems = map[string][]string{}
		p.Add("host", "The Host header must be a host name or address with an optional port, not "+strconv.Quote(host)+".")
		return "", p.Err()
	}
	return "http://" + host + "/", nil
}

// validHost reports whether s is host[:port]: a DNS name (letters, digits,
// hyphens and dots), an IPv4 address or a bracketed IPv6 address, and a
// port of 1 to 65535.
func validHost(s string) bool {
	host, port := s, ""
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.HasSuffix(s, "]") {
		host, port = s[:i], s[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '+' || port[0] == '0' {
			return false
		}
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		ip := net.ParseIP(host[1 : len(host)-1])
		return ip != nil && ip.To4() == nil
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
