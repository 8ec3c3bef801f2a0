package test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// policyFor is a one-route policy in front of upstream; methods is the
// route's method list.
func policyFor(upstream, methods string) string {
	return fmt.Sprintf(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - {name: api, match: {pathPrefix: /api}, methods: [%s], to: backend}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: %s}
`, methods, upstream)
}

// adminDo calls the admin API with the token.
func (g *gateway) adminDo(method, path string, header map[string]string, body string) (*http.Response, map[string]any) {
	g.t.Helper()
	req, _ := http.NewRequest(method, "http://"+g.admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, data := do(g.t, req)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp, out
}

func (g *gateway) applyPolicy(yaml, reason, query string) (*http.Response, map[string]any) {
	g.t.Helper()
	h := map[string]string{"Content-Type": "application/yaml"}
	if reason != "" {
		h["X-Change-Reason"] = reason
	}
	return g.adminDo("POST", "/admin/v1/policy/versions"+query, h, yaml)
}

func TestPolicyLifecycle(t *testing.T) {
	up, _ := echoUpstream(t)
	g := startGateway(t, policyFor(up.URL, "GET"), "public")
	api := g.url("public") + "/api/x"
	status := func(method string) int {
		req, _ := http.NewRequest(method, api, nil)
		resp, _ := do(t, req)
		return resp.StatusCode
	}

	// The file was recorded as version 1 at start.
	resp, active := g.adminDo("GET", "/admin/v1/policy", nil, "")
	if resp.StatusCode != 200 || active["version"] != float64(1) || active["author"] != "file" || !strings.Contains(fmt.Sprint(active["manifests"]), "kind: Gateway") {
		t.Fatalf("active policy: %d %v", resp.StatusCode, active)
	}

	// No reason → 400.
	if resp, _ := g.applyPolicy(policyFor(up.URL, "GET, POST"), "", ""); resp.StatusCode != 400 {
		t.Errorf("apply without a reason: %d", resp.StatusCode)
	}
	// Invalid → 422 with positions, and version 1 keeps serving.
	resp, body := g.applyPolicy(strings.Replace(policyFor(up.URL, "GET"), "to: backend", "to: nowhere", 1), "typo", "")
	if resp.StatusCode != 422 || !strings.Contains(fmt.Sprint(body["errors"]), "line:7") {
		t.Errorf("invalid apply: %d %v", resp.StatusCode, body)
	}
	if status("GET") != 200 {
		t.Fatal("the active version stopped serving after a refused apply")
	}
	// Widening the methods is weakening: 409 until allowWeakening.
	resp, body = g.applyPolicy(policyFor(up.URL, "GET, POST"), "let clients create", "")
	if resp.StatusCode != 409 || len(body["weakening"].([]any)) == 0 {
		t.Fatalf("weakening apply: %d %v", resp.StatusCode, body)
	}
	if status("POST") != 405 {
		t.Fatal("a refused weakening change took effect")
	}
	// A dry run reports the same and applies nothing.
	resp, body = g.applyPolicy(policyFor(up.URL, "GET, POST"), "let clients create", "?dryRun=true&allowWeakening=true")
	if resp.StatusCode != 200 || body["dryRun"] != true || status("POST") != 405 {
		t.Fatalf("dry run: %d %v", resp.StatusCode, body)
	}
	resp, body = g.applyPolicy(policyFor(up.URL, "GET, POST"), "let clients create", "?allowWeakening=true")
	if resp.StatusCode != 201 || body["version"] != float64(2) {
		t.Fatalf("apply with allowWeakening: %d %v", resp.StatusCode, body)
	}
	if status("POST") != 200 {
		t.Fatal("version 2 is not serving")
	}
	// A change against a stale base is refused.
	resp, _ = g.adminDo("POST", "/admin/v1/policy/versions?allowWeakening=true",
		map[string]string{"X-Change-Reason": "stale", "If-Match": "1", "Content-Type": "application/yaml"}, policyFor(up.URL, "GET, PUT"))
	if resp.StatusCode != 409 {
		t.Errorf("apply against a stale base: %d", resp.StatusCode)
	}

	// Rollback to version 1: a new version, flagged, and POST is refused again.
	resp, body = g.adminDo("POST", "/admin/v1/policy/rollback", nil, `{"version": 1, "reason": "POST was a mistake"}`)
	if resp.StatusCode != 201 || body["version"] != float64(3) {
		t.Fatalf("rollback: %d %v", resp.StatusCode, body)
	}
	if status("POST") != 405 || status("GET") != 200 {
		t.Fatal("rollback did not restore version 1's behaviour")
	}

	// The history, through the CLI.
	env := []string{"PORTCULLIS_ADMIN_URL=http://" + g.admin, "PORTCULLIS_ADMIN_TOKEN=" + adminToken}
	code, out, errOut := runWith(t, env, "policy", "history")
	if code != 0 {
		t.Fatalf("policy history: %d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "3 ") || !strings.Contains(lines[0], "rollback-of-1") ||
		!strings.Contains(lines[1], "weakening") || !strings.Contains(lines[2], "loaded from") {
		t.Errorf("policy history:\n%s", out)
	}
	code, out, _ = runWith(t, env, "policy", "diff", "1", "2")
	if code != 0 || !strings.Contains(out, "methods") {
		t.Errorf("policy diff: %d\n%s", code, out)
	}
	code, out, _ = runWith(t, env, "policy", "verify")
	if code != 0 || !strings.Contains(out, "3 versions") {
		t.Errorf("policy verify: %d %s", code, out)
	}

	// Tamper with a stored version behind the gateway's back: verify finds it.
	db, err := sql.Open("sqlite", filepath.Join(g.dir, "portcullis.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE policy_versions SET reason = 'nothing to see here' WHERE number = 2`); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runWith(t, env, "policy", "verify")
	if code != 1 || !strings.Contains(errOut, "broken at version 2") {
		t.Errorf("verify after tampering: %d %s", code, errOut)
	}
	// A node starting on the tampered store says so in /readyz and raises
	// an alert.
	g.stop()
	g = startGatewayOn(t, "sqlite:"+filepath.Join(g.dir, "portcullis.db"), policyFor(up.URL, "GET"), "public")
	if _, ready := g.adminGet("/readyz"); !strings.Contains(string(ready), "broken at version 2") {
		t.Errorf("/readyz after tampering: %s", ready)
	}
	if _, alerts := g.adminGet("/admin/v1/alerts"); !strings.Contains(string(alerts), `"kind":"policy.chain_broken"`) {
		t.Errorf("no alert for the broken chain: %s", alerts)
	}
}

// TestAppliesUnderLoadLoseNoRequest applies 20 versions through the admin API
// while clients send requests without pause.
func TestAppliesUnderLoadLoseNoRequest(t *testing.T) {
	upA := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	defer upA.Close()
	g := startGateway(t, policyFor(upA.URL, "GET"), "public")
	url := g.url("public") + "/api/x"
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(url)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for i := range 20 {
		// Alternate the upstream timeout so that every apply is a real change.
		yaml := strings.Replace(policyFor(upA.URL, "GET"), "to: backend}", fmt.Sprintf("to: backend, timeout: %ds}", 10+i), 1)
		if resp, body := g.applyPolicy(yaml, fmt.Sprintf("change %d", i), ""); resp.StatusCode != 201 {
			t.Fatalf("apply %d: %d %v", i, resp.StatusCode, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("20 applies: %d requests ok, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 || ok.Load() < 100 {
		t.Fatalf("ok=%d failed=%d", ok.Load(), failed.Load())
	}
}

func TestPolicyTestCommand(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	writeFile(t, policy, policyFor("http://127.0.0.1:1", "GET"))
	cases := filepath.Join(dir, "cases.yaml")
	writeFile(t, cases, `cases:
  - name: reads are allowed
    request: {method: GET, path: /api/orders}
    expect: {status: 200}
  - name: writes are refused
    request: {method: POST, path: /api/orders}
    expect: {status: 405}
  - name: nothing else is routed
    request: {method: GET, path: /api/../admin}
    expect: {status: 404}
`)
	code, out, errOut := run(t, "policy", "test", policy, "--cases", cases)
	if code != 0 || !strings.Contains(out, "3 cases, 0 failed") {
		t.Fatalf("passing cases: %d\n%s%s", code, out, errOut)
	}
	writeFile(t, cases, `cases:
  - name: writes are allowed
    request: {method: POST, path: /api/orders}
    expect: {status: 200}
`)
	code, out, _ = run(t, "policy", "test", policy, "--cases", cases)
	if code != 1 || !strings.Contains(out, "FAIL writes are allowed: want 200, got 405") {
		t.Fatalf("failing case: %d\n%s", code, out)
	}
}

// TestPolicyTestsGateApplies: a PolicyTest in the candidate that fails
// refuses the apply (422) and names the case.
func TestPolicyTestsGateApplies(t *testing.T) {
	up, _ := echoUpstream(t)
	g := startGateway(t, policyFor(up.URL, "GET"), "public")
	withTest := policyFor(up.URL, "GET") + `---
apiVersion: gateway/v1
kind: PolicyTest
metadata: {name: guard}
spec:
  cases:
    - name: deletes stay refused
      request: {method: DELETE, path: /api/x}
      expect: {status: 405}
`
	if resp, body := g.applyPolicy(withTest, "add a guard", ""); resp.StatusCode != 201 {
		t.Fatalf("apply with a passing test: %d %v", resp.StatusCode, body)
	}
	broken := strings.Replace(withTest, "methods: [GET]", "methods: [GET, DELETE]", 1)
	resp, body := g.applyPolicy(broken, "allow deletes", "?allowWeakening=true")
	if resp.StatusCode != 422 || !strings.Contains(fmt.Sprint(body["tests"]), "deletes stay refused") {
		t.Fatalf("apply with a failing test: %d %v", resp.StatusCode, body)
	}
}

// TestShadow evaluates a candidate that refuses POST beside the active
// policy that allows it: POSTs still reach the upstream once each, the report
// counts the difference, and promote applies the candidate.
func TestShadow(t *testing.T) {
	up, hits := echoUpstream(t)
	g := startGateway(t, policyFor(up.URL, "GET, POST"), "public")
	api := g.url("public") + "/api/x"

	resp, body := g.applyPolicy(policyFor(up.URL, "GET"), "try read-only", "?shadow=true")
	if resp.StatusCode != 202 || body["shadow"] == nil {
		t.Fatalf("shadow apply: %d %v", resp.StatusCode, body)
	}
	for range 3 {
		if resp, _ := do(t, mustRequest(t, "POST", api)); resp.StatusCode != 200 {
			t.Fatalf("the shadowed candidate was enforced: %d", resp.StatusCode)
		}
		if resp, _ := do(t, mustRequest(t, "GET", api)); resp.StatusCode != 200 {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
	}
	if hits.Load() != 6 {
		t.Errorf("the upstream saw %d requests for 6 sent: a shadowed request must never be sent twice", hits.Load())
	}
	resp, report := g.adminDo("GET", "/admin/v1/policy/shadow", nil, "")
	diffs, _ := report["differences"].([]any)
	if resp.StatusCode != 200 || report["requests"] != float64(6) || len(diffs) != 1 {
		t.Fatalf("shadow report: %d %v", resp.StatusCode, report)
	}
	d := diffs[0].(map[string]any)
	if d["route"] != "api" || d["method"] != "POST" || d["active"] != "allowed" || d["candidate"] != "method_not_allowed" || d["count"] != float64(3) {
		t.Errorf("difference: %v", d)
	}
	// Promote needs a reason; then the candidate is the active version.
	if resp, _ := g.adminDo("POST", "/admin/v1/policy/shadow/promote", nil, ""); resp.StatusCode != 400 {
		t.Errorf("promote without a reason: %d", resp.StatusCode)
	}
	resp, body = g.adminDo("POST", "/admin/v1/policy/shadow/promote", map[string]string{"X-Change-Reason": "read-only held up"}, "")
	if resp.StatusCode != 201 || body["version"] != float64(2) {
		t.Fatalf("promote: %d %v", resp.StatusCode, body)
	}
	if resp, _ := do(t, mustRequest(t, "POST", api)); resp.StatusCode != 405 {
		t.Errorf("after promote POST is %d, want 405", resp.StatusCode)
	}
	if resp, _ := g.adminDo("GET", "/admin/v1/policy/shadow", nil, ""); resp.StatusCode != 404 {
		t.Errorf("the shadow run outlived its promotion: %d", resp.StatusCode)
	}
	// Discard.
	g.applyPolicy(policyFor(up.URL, "GET, PUT"), "maybe PUT", "?shadow=true")
	if resp, _ := g.adminDo("DELETE", "/admin/v1/policy/shadow", nil, ""); resp.StatusCode != 204 {
		t.Errorf("discard: %d", resp.StatusCode)
	}
}

// TestLargeAppliesUnderLoad applies a generated 1,000-route policy five times
// while clients send requests, and reports the request latency before and
// during the applies (figures for the README; no request may fail).
func TestLargeAppliesUnderLoad(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	defer up.Close()
	big := func(variant int) string {
		var routes strings.Builder
		for i := range 1000 {
			fmt.Fprintf(&routes, "    - {name: r%d, match: {pathPrefix: /svc/r%d}, methods: [GET], to: backend, timeout: %ds}\n", i, i, 10+variant)
		}
		return strings.Replace(policyFor(up.URL, "GET"), "    - {name: api,", routes.String()+"    - {name: api,", 1)
	}
	g := startGateway(t, big(0), "public")
	url := g.url("public") + "/api/x"

	measure := func(d time.Duration, during func()) (lat []time.Duration, failed int) {
		var mu sync.Mutex
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					start := time.Now()
					resp, err := http.Get(url)
					took := time.Since(start)
					mu.Lock()
					if err != nil || resp.StatusCode != 200 {
						failed++
					} else {
						lat = append(lat, took)
					}
					mu.Unlock()
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}()
		}
		if during != nil {
			during()
		} else {
			time.Sleep(d)
		}
		close(stop)
		wg.Wait()
		return lat, failed
	}
	before, failedBefore := measure(2*time.Second, nil)
	var applyTimes []time.Duration
	during, failedDuring := measure(0, func() {
		for i := 1; i <= 5; i++ {
			start := time.Now()
			if resp, body := g.applyPolicy(big(i), fmt.Sprintf("big change %d", i), "?allowWeakening=true"); resp.StatusCode != 201 {
				t.Errorf("apply %d: %d %v", i, resp.StatusCode, body)
			}
			applyTimes = append(applyTimes, time.Since(start))
			time.Sleep(200 * time.Millisecond)
		}
	})
	if failedBefore+failedDuring != 0 {
		t.Fatalf("%d requests failed", failedBefore+failedDuring)
	}
	t.Logf("1,000-route applies took %v (admin API round trip, under load)", applyTimes)
	t.Logf("request latency before: %s", percentiles(before))
	t.Logf("request latency during applies: %s", percentiles(during))
}

func percentiles(lat []time.Duration) string {
	if len(lat) == 0 {
		return "no requests"
	}
	sorted := append([]time.Duration(nil), lat...)
	slices.Sort(sorted)
	at := func(q float64) time.Duration { return sorted[int(q*float64(len(sorted)-1))] }
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", len(sorted), at(0.5), at(0.99), sorted[len(sorted)-1])
}
