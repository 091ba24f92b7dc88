package webhook_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/plenario-next/exportd/internal/testenv"
)

// TestRegistrationContentTypes: a registration in a body the gateway does
// not read (curl -F's multipart/form-data, text/plain) is a 415 saying
// what it reads, in Plenario's error shape, not a "Missing url" for a url
// the body holds; JSON sent as curl -d sends it (as a form) or with its
// media type in capitals is read as JSON.
func TestRegistrationContentTypes(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true, WebhookAllow: loopback})
	const u = "http://127.0.0.1:9/a"
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	_ = w.WriteField("url", u)
	_ = w.WriteField("events", "*")
	_ = w.Close()
	refused := []struct{ name, ct, body string }{
		{"multipart", w.FormDataContentType(), mp.String()},
		{"text/plain", "text/plain", `{"url":"` + u + `","events":"*"}`},
		{"no type, a form body", "", "url=" + u + "&events=*"},
	}
	for _, c := range refused {
		code, body := doBody(t, "POST", svc.URL+"/v1/api/webhooks", c.ct, c.body)
		var shape struct {
			Error map[string][]string `json:"error"`
		}
		if code != 415 || json.Unmarshal(body, &shape) != nil || len(shape.Error["request"]) != 1 ||
			!strings.Contains(shape.Error["request"][0], "application/json") {
			t.Errorf("%s: got %d %s, want 415 keyed request naming application/json", c.name, code, body)
		}
	}
	read := []struct{ name, ct, body string }{
		{"JSON as curl -d sends it", "application/x-www-form-urlencoded", `{"url":"` + u + `","events":"*"}`},
		{"JSON in capitals", "Application/JSON; charset=utf-8", `{"url":"` + u + `","events":"*"}`},
		{"JSON without a type", "", `{"url":"` + u + `","events":"*"}`},
		{"a form", "application/x-www-form-urlencoded", "url=" + u + "&events=*"},
	}
	for _, c := range read {
		if code, body := doBody(t, "POST", svc.URL+"/v1/api/webhooks", c.ct, c.body); code != 201 {
			t.Errorf("%s: got %d %s, want 201", c.name, code, body)
		}
	}
	if code, body := doBody(t, "POST", svc.URL+"/v1/api/webhooks?events=*&url="+u, "", ""); code != 201 {
		t.Errorf("the query string alone: got %d %s, want 201", code, body)
	}
}
