// Package webhook is the HTTP side of exportd's webhooks: which URLs an
// endpoint may have, the signature of a delivery, and the client that
// makes one delivery attempt. Which events go where, and when to retry,
// is events.Deliverer's: this package knows nothing of JetStream.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Policy decides which endpoints may be called. The zero Policy allows
// https URLs of public addresses only: no loopback, private, link-local,
// shared (CGNAT), multicast or unspecified address, so that a client
// cannot make exportd call into the network it runs in.
type Policy struct {
	// Allow widens that: addresses in these prefixes may be called too,
	// and, when any is given, so may http URLs (tests, private
	// deployments).
	Allow []netip.Prefix
	// Resolver looks hosts up; nil is net.DefaultResolver.
	Resolver *net.Resolver
	// LookupTimeout bounds CheckURL's look-up of a host; 0 is
	// DefaultLookupTimeout. A delivery's own look-up is bounded by the
	// Client's Timeout, as its dial is.
	LookupTimeout time.Duration
}

// DefaultLookupTimeout is how long a registration waits for its host's
// addresses: a resolver that answers does so in milliseconds, or in a
// second or two for a slow authority, while one that has gone away held
// a registration (and its client) for as long as Go's resolver retries,
// two tries of 5 s for each name it searches (10 s measured with one).
const DefaultLookupTimeout = 5 * time.Second

// ErrDisallowed is the error of a URL or address the Policy refuses.
var ErrDisallowed = errors.New("webhook: address not allowed")

// ParseAllow reads EXPORTD_WEBHOOK_ALLOW: comma-separated CIDR prefixes
// (or single addresses).
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("bad webhook allow %q: %w", f, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Allowed reports whether a may be called.
func (p Policy) Allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, pre := range p.Allow {
		if pre.Contains(a) {
			return true
		}
	}
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !shared.Contains(a) && !a.IsLoopback()
}

// shared is the carrier-grade NAT range (RFC 6598), which IsPrivate leaves out.
var shared = netip.MustParsePrefix("100.64.0.0/10")

// CheckURL validates an endpoint's URL: absolute, http(s) as the Policy
// allows, no credentials or fragment, and a host all of whose addresses
// are allowed. The message of its error is for the client.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return errors.New("must be an absolute URL, such as https://example.org/hook")
	case len(raw) > 2048:
		return errors.New("must be at most 2048 characters long")
	case u.Scheme != "https" && !(u.Scheme == "http" && len(p.Allow) > 0):
		return errors.New("must be an https URL")
	case u.User != nil:
		return errors.New("must not carry a user or password")
	case u.Fragment != "":
		return errors.New("must not have a fragment")
	case !validPort(u.Port()):
		return errors.New("must have a port from 1 to 65535, or none")
	}
	addrs, err := p.resolve(ctx, u.Hostname())
	if err != nil {
		return fmt.Errorf("host %s cannot be resolved", u.Hostname())
	}
	for _, a := range addrs {
		if !p.Allowed(a) {
			return fmt.Errorf("host %s is a private, loopback or link-local address (%s), which webhooks may not call", u.Hostname(), a)
		}
	}
	return nil
}

// validPort reports whether port, a URL's (digits or empty, as url.Parse
// leaves it), is one a receiver can listen on: an endpoint on port 99999
// was registered, and every delivery to it failed.
func validPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

func (p Policy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	d := p.LookupTimeout
	if d <= 0 {
		d = DefaultLookupTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no address")
	}
	return addrs, err
}
