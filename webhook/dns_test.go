package webhook_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
	"github.com/plenario-next/exportd/webhook"
)

// dnsServer is a real DNS server on loopback for a Resolver to ask: it
// answers an A question for a name in answers with its addresses (and
// every other question with none), and never answers a name in silent,
// as a resolver that has gone away does.
type dnsServer struct {
	conn    net.PacketConn
	answers map[string][]netip.Addr
	silent  map[string]bool
}

func startDNS(t *testing.T, answers map[string][]netip.Addr, silent ...string) *net.Resolver {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &dnsServer{conn: conn, answers: answers, silent: map[string]bool{}}
	for _, n := range silent {
		s.silent[n] = true
	}
	go s.serve()
	addr := conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if reply := s.answer(buf[:n]); reply != nil {
			_, _ = s.conn.WriteTo(reply, from)
		}
	}
}

// answer makes the reply to query q, or nil for none.
func (s *dnsServer) answer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	end := i + 5 // the root label, QTYPE, QCLASS
	if end > len(q) {
		return nil
	}
	name := strings.ToLower(strings.Join(labels, "."))
	if s.silent[name] {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	var addrs []netip.Addr
	for _, a := range s.answers[name] {
		if qtype == 1 && a.Is4() || qtype == 28 && a.Is6() {
			addrs = append(addrs, a)
		}
	}
	r := append([]byte(nil), q[:end]...)
	binary.BigEndian.PutUint16(r[2:], 0x8180) // a response, recursion desired and available, no error
	binary.BigEndian.PutUint16(r[4:], 1)
	binary.BigEndian.PutUint16(r[6:], uint16(len(addrs)))
	binary.BigEndian.PutUint32(r[8:], 0)
	for _, a := range addrs {
		b := a.AsSlice()
		r = append(r, 0xc0, 12) // the question's name
		r = binary.BigEndian.AppendUint16(r, qtype)
		r = binary.BigEndian.AppendUint16(r, 1)
		r = binary.BigEndian.AppendUint32(r, 60)
		r = binary.BigEndian.AppendUint16(r, uint16(len(b)))
		r = append(r, b...)
	}
	return r
}

// TestCheckURLLookupBounded: a registration whose host's resolver never
// answers is refused once the Policy's LookupTimeout has passed, as a host
// that cannot be resolved, instead of holding the request for as long as
// the resolver retries (two tries of 5 s per name it searches).
func TestCheckURLLookupBounded(t *testing.T) {
	p := webhook.Policy{Resolver: startDNS(t, nil, "slow.example", "slow.example.test"), LookupTimeout: 200 * time.Millisecond}
	start := time.Now()
	err := p.CheckURL(context.Background(), "https://slow.example/hook")
	if took := time.Since(start); err == nil || !strings.Contains(err.Error(), "cannot be resolved") || took > 2*time.Second {
		t.Errorf("got %v after %v, want \"cannot be resolved\" within the 200 ms lookup timeout", err, took)
	}
}

// TestCheckURLResolvesPrivate: a webhook or callback host whose name
// resolves to a loopback or private address (or to a public one and a
// private one) is refused at registration, naming the address, as the
// Policy refuses the address itself; allowed, it is registered.
func TestCheckURLResolvesPrivate(t *testing.T) {
	answers := map[string][]netip.Addr{
		"loop.example":   {netip.MustParseAddr("127.0.0.1")},
		"loop6.example":  {netip.MustParseAddr("::1")},
		"mixed.example":  {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.1.2.3")},
		"public.example": {netip.MustParseAddr("93.184.216.34")},
	}
	p := webhook.Policy{Resolver: startDNS(t, answers)}
	for host, addr := range map[string]string{"loop.example": "127.0.0.1", "loop6.example": "::1", "mixed.example": "10.1.2.3"} {
		err := p.CheckURL(context.Background(), "https://"+host+"/hook")
		if err == nil || !strings.Contains(err.Error(), "private, loopback") || !strings.Contains(err.Error(), addr) {
			t.Errorf("%s: got %v, want it refused naming %s", host, err, addr)
		}
	}
	if err := p.CheckURL(context.Background(), "https://public.example/hook"); err != nil {
		t.Errorf("a public host: got %v, want it allowed", err)
	}
	p.Allow = loopback
	if err := p.CheckURL(context.Background(), "http://loop.example:8080/hook"); err != nil {
		t.Errorf("loopback allowed: got %v, want it allowed", err)
	}
}

// TestClientRefusesNameOfLoopback: a delivery to a host whose name now
// resolves to loopback (registered while it was public: DNS rebinding by
// name) is refused at the dial, the receiver never called.
func TestClientRefusesNameOfLoopback(t *testing.T) {
	called := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called <- struct{}{} }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p := webhook.Policy{Resolver: startDNS(t, map[string][]netip.Addr{"rebind.example": {netip.MustParseAddr("127.0.0.1")}})}
	hook := schema.Webhook{ID: "1", URL: "http://rebind.example:" + port + "/hook", Secret: webhook.NewSecret()}
	err := webhook.NewClient(p, time.Second).Send(context.Background(), hook, "1", []byte(`{}`))
	if !errors.Is(err, webhook.ErrDisallowed) || len(called) > 0 {
		t.Errorf("got %v (called %d), want ErrDisallowed before any request", err, len(called))
	}
}
