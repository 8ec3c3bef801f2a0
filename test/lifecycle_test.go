package test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// twoVersions returns two valid configs that route /api to a different
// upstream, and the upstreams' names.
func twoVersions(t *testing.T) (a, b string) {
	mk := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			fmt.Fprint(w, name)
		}))
		t.Cleanup(s.Close)
		return s
	}
	cfg := func(url string) string {
		return fmt.Sprintf(`
apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - {name: api, match: {pathPrefix: /api}, to: backend}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: %s}
`, url)
	}
	return cfg(mk("A").URL), cfg(mk("B").URL)
}

// TestReloadUnderLoadLosesNoRequest reloads every 100 ms for 5 s while
// clients send requests without pause: every request must succeed, and both
// versions must have served.
func TestReloadUnderLoadLosesNoRequest(t *testing.T) {
	cfgA, cfgB := twoVersions(t)
	g := startGateway(t, cfgA, "public")
	url := g.url("public") + "/api/x"

	var ok, failed atomic.Int64
	var seen sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(url, "text/plain", strings.NewReader("payload"))
				if err != nil {
					failed.Add(1)
					t.Errorf("request failed during reload: %v", err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					t.Errorf("status %d during reload: %s", resp.StatusCode, body)
					continue
				}
				seen.Store(string(body), true)
				ok.Add(1)
			}
		}()
	}
	reloads := 0
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); reloads++ {
		if reloads%2 == 0 {
			g.reload(cfgB)
		} else {
			g.reload(cfgA)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	g.waitLog("policy reloaded", reloads/2)
	_, sawA := seen.Load("A")
	_, sawB := seen.Load("B")
	t.Logf("%d reloads, %d requests ok, %d failed", reloads, ok.Load(), failed.Load())
	if failed.Load() != 0 || ok.Load() < 100 || !sawA || !sawB {
		t.Fatalf("ok=%d failed=%d sawA=%v sawB=%v", ok.Load(), failed.Load(), sawA, sawB)
	}
}

func TestBadReloadKeepsLastGoodPolicy(t *testing.T) {
	cfgA, cfgB := twoVersions(t)
	g := startGateway(t, cfgA, "public")
	url := g.url("public") + "/api/x"

	// Two problems: an unknown field and a route to a Service that does not exist.
	broken := strings.Replace(cfgB, "kind: Service", "kind: Service\nbogus: true", 1)
	broken = strings.Replace(broken, "to: backend", "to: nowhere", 1)
	g.reload(broken)
	g.waitLog("reload rejected", 1)
	if _, body := get(t, url); string(body) != "A" {
		t.Fatalf("after a bad reload the old policy must serve; got %q", body)
	}
	_, ready := g.adminGet("/readyz")
	if !strings.Contains(string(ready), "rejected") {
		t.Errorf("/readyz does not warn about the rejected reload: %s", ready)
	}
	// Every problem is logged with its position.
	var problems []string
	for _, rec := range g.logRecords() {
		if rec["msg"] == "reload rejected" {
			problems = append(problems, fmt.Sprint(rec["problem"]))
		}
	}
	if len(problems) < 2 || !strings.Contains(problems[0], "gateway.yaml:") {
		t.Errorf("logged problems: %q", problems)
	}

	g.reload(cfgB)
	g.waitLog("policy reloaded", 1)
	if _, body := get(t, url); string(body) != "B" {
		t.Fatalf("a good reload after a bad one must apply; got %q", body)
	}
	if _, ready := g.adminGet("/readyz"); strings.Contains(string(ready), "rejected") {
		t.Errorf("/readyz still warns after a good reload: %s", ready)
	}
}

// TestSIGTERMDrains starts a slow request, sends SIGTERM, and expects the
// request to complete, new connections to be refused, and exit code 0.
func TestSIGTERMDrains(t *testing.T) {
	started := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		time.Sleep(time.Second)
		fmt.Fprint(w, "finished")
	}))
	defer up.Close()
	g := startGateway(t, basicConfig(up.URL), "public")
	done := make(chan string, 1)
	go func() {
		resp, err := http.Get(g.url("public") + "/public/slow")
		if err != nil {
			done <- "error: " + err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(body)
	}()
	<-started
	g.signal(syscall.SIGTERM)
	if got := <-done; got != "finished" {
		t.Fatalf("in-flight request during SIGTERM: %q", got)
	}
	if code := g.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	// The access log was flushed before exit.
	found := false
	for _, rec := range g.accessLog() {
		if rec["path"] == "/public/slow" && rec["status"] == float64(200) {
			found = true
		}
	}
	if !found {
		t.Errorf("access log lost the drained request: %s", g.stdout.String())
	}
}

func TestAccessLogAndAdmin(t *testing.T) {
	up, _ := echoUpstream(t)
	g := startGateway(t, basicConfig(up.URL), "public")
	get(t, g.url("public")+"/public/logged?token=x", "X-Request-Id", "log-me")
	get(t, g.url("public")+"/missing")

	var rec map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for rec == nil && time.Now().Before(deadline) {
		for _, r := range g.accessLog() {
			if r["requestId"] == "log-me" {
				rec = r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rec == nil {
		t.Fatalf("no access log line; stdout: %s", g.stdout.String())
	}
	for _, k := range []string{"time", "requestId", "method", "path", "route", "status", "bytes", "latencyMs", "upstreamLatencyMs", "clientIP"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("access log line lacks %q: %v", k, rec)
		}
	}
	if rec["route"] != "public" || rec["status"] != float64(200) || rec["method"] != "GET" || rec["path"] != "/public/logged" {
		t.Errorf("access log line: %v", rec)
	}

	// Health needs no token; everything else does.
	if resp, _ := get(t, "http://"+g.admin+"/healthz"); resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	if resp, body := get(t, "http://"+g.admin+"/readyz"); resp.StatusCode != 200 || !strings.Contains(string(body), `"ready":true`) {
		t.Errorf("/readyz: %d %s", resp.StatusCode, body)
	}
	resp, body := get(t, "http://"+g.admin+"/metrics")
	assertProblem(t, resp, body, 401)
	resp, body = get(t, "http://"+g.admin+"/metrics", "Authorization", "Bearer wrong")
	assertProblem(t, resp, body, 401)
	resp, body = g.adminGet("/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`portcullis_requests_total{decision="allowed",route="public",status="200"} 1`,
		`portcullis_requests_total{decision="not_found",route="_unmatched",status="404"} 1`,
		`portcullis_request_duration_seconds_bucket{route="public"`,
		`portcullis_upstream_duration_seconds_count{route="public"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
