package control

import (
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestCasesRunTheInputSteps: a policy test's case goes through the body
// limit, validation and the WAF as a live request does.
func TestCasesRunTheInputSteps(t *testing.T) {
	p, err := config.Parse("p.yaml", []byte(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: g}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - {name: orders, match: {pathPrefix: /orders}, to: s, validation: {maxBodyBytes: 64, contentTypes: [application/json]}}
    - {name: shop, match: {pathPrefix: /shop}, to: s, waf: {mode: block}}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: s}
spec: {url: "http://127.0.0.1:1"}
`))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Compile(p, snapshot.Deps{Metrics: metrics.New()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	json := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name string
		req  config.TestRequest
		want int
	}{
		{"a good order", config.TestRequest{Method: "POST", Path: "/orders", Headers: json, Body: `{"sku": "A"}`}, 200},
		{"not JSON", config.TestRequest{Method: "POST", Path: "/orders", Headers: map[string]string{"Content-Type": "text/plain"}, Body: "x"}, 415},
		{"malformed JSON", config.TestRequest{Method: "POST", Path: "/orders", Headers: json, Body: `{"sku": }`}, 400},
		{"too large", config.TestRequest{Method: "POST", Path: "/orders", Headers: json, Body: `{"sku": "` + string(make([]byte, 100)) + `"}`}, 413},
		{"an injection", config.TestRequest{Method: "GET", Path: "/shop?id=1%27%20OR%20%271%27%3D%271"}, 403},
		{"a search", config.TestRequest{Method: "GET", Path: "/shop?q=blue+shoes"}, 200},
	}
	for _, c := range cases {
		if f := RunCase(snap, config.TestCase{Name: c.name, Request: c.req, Expect: config.TestExpected{Status: c.want}}); f != nil {
			t.Errorf("%s: %+v", c.name, f)
		}
	}
}
