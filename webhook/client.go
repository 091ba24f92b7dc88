package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// Defaults of Client.
const (
	DefaultTimeout = 10 * time.Second
	// maxResponse is how much of an answer is read: enough for an error
	// message, never a large body a receiver sends back.
	maxResponse = 4 << 10
)

// Client makes delivery attempts (it is an events.WebhookSender). It
// dials only addresses its Policy allows, checked on the address actually
// dialled, so that a host that resolved to a public address at
// registration and to a private one now (DNS rebinding) is refused; it
// follows no redirect and uses no proxy.
type Client struct {
	Policy  Policy
	Timeout time.Duration // per attempt; DefaultTimeout if 0
	Now     func() time.Time
	http    *http.Client
}

// NewClient returns a Client for p.
func NewClient(p Policy, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c := &Client{Policy: p, Timeout: timeout, Now: time.Now}
	d := &net.Dialer{Timeout: timeout, Control: c.control, Resolver: p.Resolver}
	c.http = &http.Client{
		Transport: &http.Transport{
			Proxy: nil, DialContext: d.DialContext, ForceAttemptHTTP2: true,
			TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       timeout,
	}
	return c
}

// control refuses a connection to an address the Policy does not allow.
func (c *Client) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrDisallowed, address)
	}
	if !c.Policy.Allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrDisallowed, ap.Addr())
	}
	return nil
}

// Send POSTs body to w.URL, signed with w.Secret, and returns nil for a
// 2xx answer; otherwise an error saying what the endpoint did, for the
// endpoint's delivery state.
func (c *Client) Send(ctx context.Context, w schema.Webhook, id string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("bad url: %w", err)
	}
	now := c.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "exportd-webhook/1")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderIdempotency, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(w.Secret, now, body))
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, ErrDisallowed) {
			return fmt.Errorf("refused to connect: %w", err)
		}
		return err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	if len(text) > 200 {
		text = text[:200]
	}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
		return fmt.Errorf("answered %d (redirects are not followed) to %s", resp.StatusCode, loc)
	}
	return fmt.Errorf("answered %d: %s", resp.StatusCode, bytes.TrimSpace(text))
}
