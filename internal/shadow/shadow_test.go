package shadow

import (
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestObserveCountsDifferences(t *testing.T) {
	p, err := config.Parse("c.yaml", []byte(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: c}
spec:
  listeners: [{name: public, port: 8080}]
  routes: [{name: api, match: {pathPrefix: /api}, methods: [GET], to: b}]
---
apiVersion: gateway/v1
kind: Service
metadata: {name: b}
spec: {url: "http://127.0.0.1:1"}
`))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Compile(p, snapshot.Deps{Metrics: metrics.New()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := NewRun(snap, nil, "h")
	run.Observe("public", httptest.NewRequest("GET", "/api/x", nil), "192.0.2.1", "api", "allowed")      // same
	run.Observe("public", httptest.NewRequest("POST", "/api/x", nil), "192.0.2.1", "api", "allowed")     // differs
	run.Observe("public", httptest.NewRequest("POST", "/api/y", nil), "192.0.2.1", "api", "allowed")     // differs, same kind
	run.Observe("public", httptest.NewRequest("GET", "/other", nil), "192.0.2.1", "", "allowed")         // differs: not routed
	run.Observe("elsewhere", httptest.NewRequest("GET", "/api/x", nil), "192.0.2.1", "api", "not_found") // no such listener: not_found
	rep := run.Report()
	if rep.Requests != 5 || len(rep.Differences) != 2 {
		t.Fatalf("report: %+v", rep)
	}
	first := rep.Differences[0]
	if first.Route != "api" || first.Method != "POST" || first.Active != "allowed" || first.Candidate != "method_not_allowed" || first.Count != 2 {
		t.Errorf("most frequent difference: %+v", first)
	}
	if second := rep.Differences[1]; second.Candidate != "not_found" || second.Route != "" {
		t.Errorf("second: %+v", second)
	}
}
