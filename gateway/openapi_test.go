package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestOpenAPIMatchesResponses: /openapi.json is a valid OpenAPI 3
// document, and what the gateway really answers (bodies, statuses, media
// types) is what it says, for successes and for errors.
func TestOpenAPIMatchesResponses(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 2000})
	n := chstore.DemoNetwork("array_of_things")
	if err := svc.Store.Seed(context.Background(), n, 5000, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	_, raw := testenv.Get(t, svc.URL+"/openapi.json")
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI 3: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: svc.URL}}
	// kin-openapi decodes neither event streams nor NDJSON: take them as text.
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	window := "start_datetime=2026-09-30T00:00:00&end_datetime=2026-10-01T00:00:00"
	ticket := svc.Submit(t, "array_of_things", window)
	if j := svc.Wait(t, ticket, time.Minute); j.Status.Status != schema.StatusSuccess {
		t.Fatalf("got %q, want success", j.Status.Status)
	}
	unknown := strings.Repeat("0", 32)
	node, sensor := n.Nodes[3].ID, n.Sensors[0].Name
	onNode := url.QueryEscape(fmt.Sprintf(`{"type":"Point","coordinates":[%v,%v]}`, n.Nodes[3].Lon, n.Nodes[3].Lat))
	far := url.QueryEscape(`{"type":"Point","coordinates":[10,10]}`)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/healthz", 200},
		{"GET", "/readyz", 200},
		{"GET", "/openapi.json", 200},
		{"GET", "/v1/api/sensor-networks", 200},
		{"GET", "/v1/api/sensor-networks/array_of_things", 200},
		{"GET", "/v1/api/sensor-networks/nowhere", 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/nodes", 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/nodes/" + node, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/nodes/nope", 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/nodes?geom=" + far, 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/sensors", 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/sensors?geom=" + onNode, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/sensors?geom=" + far, 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/sensors/" + sensor, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/sensors/" + sensor + "?geom=" + onNode, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/features", 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/features?geom=" + onNode, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/features/temperature", 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/features/nope", 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/query?feature=temperature&limit=5&" + window, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/query?" + window, 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/download?features=bogus", 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/download?features=temperature&" + window, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/download?feature=temperature&node=" + node + "&limit=10&offset=5&filter=" +
			url.QueryEscape(`{"op":"gt","prop":"temperature","val":20}`) + "&" + window, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/download?filter=%7B", 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/query?feature=temperature&sensor=tmp112&filter=" +
			url.QueryEscape(`{"op":"in","col":"node","val":"`+node+`"}`) + "&" + window, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/aggregate?feature=temperature&node=" + node + "&" + window, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/aggregate?feature=temperature&agg=day&function=med&node=" + node + "&" + window, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/aggregate?feature=temperature", 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/aggregate?feature=light_intensity&sensors=tmp112&node=" + node, 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/nearest?lat=41.7&lng=-87.8&feature=temperature&datetime=2026-09-30T12:00:00", 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/nearest?lat=41.7&lng=-87.8&feature=temperature&datetime=2020-01-01", 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/nearest?lat=x", 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/check?nodes=" + node + ",nope&features=temperature", 200},
		{"GET", "/v1/api/sensor-networks/nowhere/check", 400},
		{"GET", "/v1/api/sensor-networks/array_of_things/map", 200},
		{"GET", "/v1/api/sensor-networks/nowhere/map", 400},
		{"GET", "/v1/api/jobs/" + ticket, 200},
		{"GET", "/v1/api/jobs/" + unknown, 404},
		{"GET", "/v1/api/jobs/" + ticket + "/manifest", 200},
		{"GET", "/v1/api/jobs/" + unknown + "/manifest", 404},
		{"GET", "/v1/api/datadump/" + ticket + "?data_type=json", 200},
		{"GET", "/v1/api/datadump/" + ticket, 200},
		{"GET", "/v1/api/datadump/" + ticket + "?data_type=ndjson", 200},
		{"GET", "/v1/api/datadump/" + ticket + "?data_type=xml", 400},
		{"GET", "/v1/api/datadump/" + unknown, 404},
		{"GET", "/v1/api/jobs/" + ticket + "/events", 200},
		{"DELETE", "/v1/api/jobs/" + unknown, 404},
		{"DELETE", "/v1/api/jobs/" + ticket, 200},
		{"GET", "/v1/api/sensor-networks/array_of_things/download?callback=https%3A%2F%2F127.0.0.1%2Fhook&" + window, 400},
		{"GET", "/v1/api/webhooks", 200},
		{"GET", "/v1/api/webhooks/0123456789abcdef", 404},
		{"DELETE", "/v1/api/webhooks/0123456789abcdef", 404},
	} {
		req, err := http.NewRequest(c.method, svc.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: not in the document: %v", c.method, c.path, err)
			continue
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: got %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.want)
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if c.want < 400 {
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("%s %s: the document refuses this good request: %v", c.method, c.path, err)
			}
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
			Header: resp.Header, Options: in.Options}
		out.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %s: the answer is not what the document says: %v\n%s", c.method, c.path, err, firstBytes(body))
		}
	}
}

func firstBytes(b []byte) []byte {
	if len(b) > 300 {
		return append(bytes.Clone(b[:300]), "…"...)
	}
	return b
}
