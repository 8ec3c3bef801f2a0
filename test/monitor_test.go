package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/monitor"
)

// monitorPolicy has an API-key route (/api), an open one (/open) and a
// Monitor whose spec is the one line given.
func monitorPolicy(upstream, monitorSpec string) string {
	return fmt.Sprintf(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - {name: api, match: {pathPrefix: /api}, to: backend, authentication: {type: apiKey}}
    - {name: open, match: {pathPrefix: /open}, to: backend}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: %s}
---
apiVersion: gateway/v1
kind: Monitor
metadata: {name: watch}
spec:
  %s
`, upstream, monitorSpec)
}

// TestAlertsEndToEnd: a client trying one random API key after another is
// alerted — listed by the admin API, streamed over SSE, posted to the
// Monitor's webhook signed with the secret from the environment, and
// counted.
func TestAlertsEndToEnd(t *testing.T) {
	t.Setenv("E2E_WEBHOOK_SECRET", "hook-secret")
	received := make(chan []byte, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(monitor.SignatureHeader) != monitor.Sign("hook-secret", body) {
			t.Errorf("webhook signature %q", r.Header.Get(monitor.SignatureHeader))
		}
		received <- body
	}))
	defer hook.Close()
	up, _ := echoUpstream(t)
	g := startGateway(t, monitorPolicy(up.URL, "alerts: {webhook: "+hook.URL+", secretEnv: E2E_WEBHOOK_SECRET}"), "public")

	// The stream, opened before the attack.
	req, _ := http.NewRequest("GET", "http://"+g.admin+"/admin/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	stream, err := http.DefaultClient.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("alert stream: %v %v", err, stream)
	}
	defer stream.Body.Close()
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- data
			}
		}
	}()

	for i := range 30 {
		resp, _ := get(t, g.url("public")+"/api/orders", "X-API-Key", fmt.Sprintf("pck_guess%04d", i))
		if resp.StatusCode != 401 {
			t.Fatalf("a wrong key: %d", resp.StatusCode)
		}
	}
	want := map[string]bool{"auth.bruteforce": false, "auth.key_enumeration": false}
	deadline := time.After(15 * time.Second)
	for !want["auth.bruteforce"] || !want["auth.key_enumeration"] {
		select {
		case data := <-events:
			var a struct{ Kind, Subject string }
			_ = json.Unmarshal([]byte(data), &a)
			if _, ok := want[a.Kind]; ok && a.Subject == "ip:127.0.0.1" {
				want[a.Kind] = true
			}
		case <-deadline:
			t.Fatalf("streamed alerts: %v", want)
		}
	}
	select {
	case body := <-received:
		var b struct {
			Alert struct{ ID, Kind, Severity, Subject string }
		}
		if err := json.Unmarshal(body, &b); err != nil || b.Alert.ID == "" || b.Alert.Subject != "ip:127.0.0.1" {
			t.Fatalf("webhook body %s", body)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the webhook received no alert")
	}
	resp, body := g.adminGet("/admin/v1/alerts")
	var list struct {
		Alerts []struct {
			ID, Kind, Subject string
			Count             int
		}
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil || len(list.Alerts) < 2 {
		t.Fatalf("alerts: %d %s", resp.StatusCode, body)
	}
	_, metrics := g.adminGet("/metrics")
	for _, want := range []string{`portcullis_alerts_total{kind="auth.key_enumeration"} 1`, `portcullis_auth_failures_total{route="api"} 30`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics: no %s", want)
		}
	}

	// The alerts are kept in the store: a restarted node lists them.
	g.signal(syscall.SIGTERM)
	if code := g.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	again := startGatewayOn(t, "sqlite:"+filepath.Join(g.dir, "portcullis.db"), monitorPolicy(up.URL, ""), "public")
	resp, body = again.adminGet("/admin/v1/alerts")
	var after struct{ Alerts []struct{ ID string } }
	if resp.StatusCode != 200 || json.Unmarshal(body, &after) != nil {
		t.Fatalf("alerts after a restart: %d %s", resp.StatusCode, body)
	}
	kept := map[string]bool{}
	for _, a := range after.Alerts {
		kept[a.ID] = true
	}
	for _, a := range list.Alerts {
		if !kept[a.ID] {
			t.Errorf("alert %s (%s) was not kept across the restart: %s", a.ID, a.Kind, body)
		}
	}
}

// TestAutoBlock: with autoBlock on, a brute-forcing client is blocked (403,
// decision blocked) for the configured time, then let through again.
func TestAutoBlock(t *testing.T) {
	up, _ := echoUpstream(t)
	g := startGateway(t, monitorPolicy(up.URL, "autoBlock: {enabled: true, ttl: 3s}"), "public")
	status := func(path string, headers ...string) int {
		resp, _ := get(t, g.url("public")+path, headers...)
		return resp.StatusCode
	}
	for range 25 {
		status("/api/orders", "X-API-Key", "pck_wrong")
	}
	deadline := time.Now().Add(10 * time.Second)
	for status("/open/x") != 403 {
		if time.Now().After(deadline) {
			t.Fatal("the brute-forcing client was not blocked")
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, _ := g.adminGet("/admin/v1/blocks")
	if resp.StatusCode != 200 {
		t.Fatalf("blocks: %d", resp.StatusCode)
	}
	deadline = time.Now().Add(15 * time.Second)
	for status("/open/x") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the auto-block did not expire")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
