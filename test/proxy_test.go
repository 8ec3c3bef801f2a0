package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoUpstream answers every request with what it received, as JSON.
func echoUpstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "path": r.URL.Path, "rawPath": r.URL.RawPath, "query": r.URL.RawQuery,
			"host": r.Host, "headers": r.Header, "body": string(body),
		})
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

type echoed struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

func decodeEcho(t *testing.T, body []byte) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("upstream answer is not JSON: %v: %s", err, body)
	}
	return e
}

func basicConfig(upstream string) string {
	return fmt.Sprintf(`
apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners:
    - name: public
      port: 8080
  routes:
    - name: public
      match: {pathPrefix: /public}
      methods: [GET, POST]
      to: backend
    - name: export
      match: {path: /reports/export}
      to: backend
    - name: stripped
      match: {pathPrefix: /v1/svc}
      stripPrefix: true
      to: backend
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec:
  url: %s
`, upstream)
}

func TestProxyHeadersAndRouting(t *testing.T) {
	up, _ := echoUpstream(t)
	g := startGateway(t, basicConfig(up.URL), "public")
	base := g.url("public")

	resp, body := get(t, base+"/public/items?a=1&b=two",
		"X-Forwarded-For", "6.6.6.6", "X-Consumer-Name", "admin", "X-Consumer-Roles", "root",
		"X-Request-Id", "client-id-42", "Connection", "X-Secret-Hop", "X-Secret-Hop", "1", "X-Keep", "yes")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	e := decodeEcho(t, body)
	if e.Path != "/public/items" || e.Query != "a=1&b=two" {
		t.Errorf("upstream saw %q ? %q", e.Path, e.Query)
	}
	h := http.Header(e.Headers)
	if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want only the real peer (the client's value is not trusted)", got)
	}
	for _, k := range []string{"X-Consumer-Name", "X-Consumer-Roles", "X-Secret-Hop"} {
		if v := h.Values(k); len(v) > 0 {
			t.Errorf("upstream received %s = %q", k, v)
		}
	}
	if h.Get("X-Keep") != "yes" || h.Get("X-Request-Id") != "client-id-42" {
		t.Errorf("headers lost: %v", h)
	}
	if h.Get("X-Forwarded-Proto") != "http" || h.Get("X-Forwarded-Host") != g.listeners["public"] {
		t.Errorf("X-Forwarded-Proto/Host = %q/%q", h.Get("X-Forwarded-Proto"), h.Get("X-Forwarded-Host"))
	}
	if resp.Header.Get("X-Request-Id") != "client-id-42" {
		t.Errorf("response X-Request-Id = %q", resp.Header.Get("X-Request-Id"))
	}
	if st := resp.Header.Get("Server-Timing"); !strings.HasPrefix(st, "gateway;dur=") {
		t.Errorf("Server-Timing = %q", st)
	}

	// A request id the gateway does not accept is replaced.
	resp, _ = get(t, base+"/public/x", "X-Request-Id", "bad id with spaces")
	if id := resp.Header.Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
		t.Errorf("X-Request-Id = %q", id)
	}

	// Exact paths, and stripPrefix.
	if resp, _ := get(t, base+"/reports/export"); resp.StatusCode != 200 {
		t.Errorf("exact path: %d", resp.StatusCode)
	}
	if resp, _ := get(t, base+"/reports/export/x"); resp.StatusCode != 404 {
		t.Errorf("exact path must not match deeper paths: %d", resp.StatusCode)
	}
	_, body = get(t, base+"/v1/svc/orders/7")
	if e := decodeEcho(t, body); e.Path != "/orders/7" {
		t.Errorf("stripPrefix: upstream saw %q", e.Path)
	}
	_, body = get(t, base+"/v1/svc")
	if e := decodeEcho(t, body); e.Path != "/" {
		t.Errorf("stripPrefix of the prefix itself: upstream saw %q", e.Path)
	}

	// POST bodies pass through.
	req, _ := http.NewRequest("POST", base+"/public/things", strings.NewReader(`{"n":1}`))
	resp, body = do(t, req)
	if e := decodeEcho(t, body); resp.StatusCode != 200 || e.Body != `{"n":1}` || e.Method != "POST" {
		t.Errorf("POST: %d %+v", resp.StatusCode, e)
	}
}

func TestProblemJSONErrors(t *testing.T) {
	up, hits := echoUpstream(t)
	g := startGateway(t, basicConfig(up.URL), "public")
	base := g.url("public")

	resp, body := get(t, base+"/nothing-here")
	assertProblem(t, resp, body, 404)
	req, _ := http.NewRequest("DELETE", base+"/public/x", nil)
	resp, body = do(t, req)
	assertProblem(t, resp, body, 405)
	if allow := resp.Header.Get("Allow"); allow != "GET, HEAD, POST" {
		t.Errorf("Allow = %q", allow)
	}
	// Too many headers → 431.
	headers := []string{}
	for i := range 120 {
		headers = append(headers, fmt.Sprintf("X-H-%d", i), "v")
	}
	resp, body = get(t, base+"/public/x", headers...)
	assertProblem(t, resp, body, 431)
	resp, body = get(t, base+"/public/x", "X-Big", strings.Repeat("a", 40000))
	assertProblem(t, resp, body, 431)
	if hits.Load() != 0 {
		t.Errorf("upstream was called %d times for refused requests", hits.Load())
	}
}

func assertProblem(t *testing.T, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var p struct {
		Type, Title, Detail, RequestID string
		Status                         int
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	if p.Status != status || p.Title == "" || p.RequestID == "" || p.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("problem = %+v", p)
	}
}

// TestPathTricks sends paths that try to reach a route by another spelling.
// Only /public is routed; /admin exists on the upstream but has no route.
func TestPathTricks(t *testing.T) {
	up, _ := echoUpstream(t)
	g := startGateway(t, basicConfig(up.URL), "public")
	addr := g.listeners["public"]
	cases := []struct {
		target string
		status int
		path   string // what the upstream must see when routed
	}{
		{"/public/../admin", 404, ""},
		{"/public/%2e%2e/admin", 404, ""},
		{"/public/%2E%2E/admin", 404, ""},
		{"/public/.%2e/admin", 404, ""},
		{"/public/..%2fadmin", 400, ""},
		{"/public%2f..%2fadmin", 400, ""},
		{"/public/..\\admin", 400, ""},
		{"//public//items", 200, "/public/items"},
		{"/admin/../public/x", 200, "/public/x"},
		{"/public/./a/%2e/b", 200, "/public/a/b"},
		{"/%70ublic/x", 200, "/public/x"},
	}
	for _, c := range cases {
		status, body := rawGet(t, addr, c.target)
		if status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.target, status, c.status, body)
			continue
		}
		if c.status == 200 {
			if e := decodeEcho(t, []byte(body)); e.Path != c.path {
				t.Errorf("%s: upstream saw %q, want %q", c.target, e.Path, c.path)
			}
		}
	}
}

// rawGet sends a request line exactly as written (no client-side cleaning).
func rawGet(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	return rawRequest(t, addr, "GET "+target+" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
}

// rawRequest writes a request head as given and reads the response.
func rawRequest(t *testing.T, addr, head string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: %v", head, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestTrustedProxies(t *testing.T) {
	up, _ := echoUpstream(t)
	cfg := strings.Replace(basicConfig(up.URL), "spec:\n  listeners:", "spec:\n  trustedProxies: [127.0.0.1]\n  listeners:", 1)
	g := startGateway(t, cfg, "public")
	_, body := get(t, g.url("public")+"/public/x", "X-Forwarded-For", "203.0.113.9", "X-Forwarded-Proto", "https")
	h := http.Header(decodeEcho(t, body).Headers)
	if got := h.Get("X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For from a trusted proxy = %q", got)
	}
	if got := h.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto from a trusted proxy = %q", got)
	}
	var clientIP any
	deadline := time.Now().Add(5 * time.Second)
	for clientIP == nil && time.Now().Before(deadline) {
		for _, rec := range g.accessLog() {
			clientIP = rec["clientIP"]
		}
		time.Sleep(50 * time.Millisecond)
	}
	if clientIP != "203.0.113.9" {
		t.Errorf("access log clientIP = %v", clientIP)
	}
}

func TestUpstreamFailures(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	cfg := fmt.Sprintf(`
apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - {name: slow, match: {pathPrefix: /slow}, to: slow, timeout: 300ms}
    - {name: dead, match: {pathPrefix: /dead}, to: dead}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: slow}
spec: {url: %s}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: dead}
spec: {url: http://%s}
`, slow.URL, deadAddr)
	g := startGateway(t, cfg, "public")
	resp, body := get(t, g.url("public")+"/slow/x")
	assertProblem(t, resp, body, 504)
	resp, body = get(t, g.url("public")+"/dead/x")
	assertProblem(t, resp, body, 502)
	for _, leak := range []string{deadAddr, strings.TrimPrefix(slow.URL, "http://"), "127.0.0.1", "dial", "goroutine"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("error body leaks %q: %s", leak, body)
		}
	}
}

func TestStreamingIsNotBuffered(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release // the second event waits until the client has seen the first
		fmt.Fprint(w, "data: second\n\n")
	}))
	defer up.Close()
	defer close(release)
	g := startGateway(t, basicConfig(up.URL), "public")
	resp, err := http.Get(g.url("public") + "/public/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}
	release <- struct{}{}
	_, _ = r.ReadString('\n')
	line, _ = r.ReadString('\n')
	if line != "data: second\n" {
		t.Fatalf("second event: %q", line)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	// A raw upstream: answers the upgrade with 101, then echoes bytes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Header.Get("Upgrade") != "websocket" {
					fmt.Fprint(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
					return
				}
				fmt.Fprint(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
				_, _ = io.Copy(c, br)
			}()
		}
	}()
	cfg := fmt.Sprintf(`
apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - {name: ws, match: {pathPrefix: /ws}, to: ws, websocket: true}
    - {name: plain, match: {pathPrefix: /plain}, to: ws}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: ws}
spec: {url: "http://%s"}
`, ln.Addr())
	g := startGateway(t, cfg, "public")
	conn, err := net.Dial("tcp", g.listeners["public"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(conn, "GET /ws/chat HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprint(conn, "ping-through-the-gateway")
	buf := make([]byte, len("ping-through-the-gateway"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping-through-the-gateway" {
		t.Fatalf("echo: %q %v", buf, err)
	}
	// A route that does not allow WebSocket never forwards the upgrade.
	status, _ := rawRequest(t, g.listeners["public"], "GET /plain/chat HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if status == 101 {
		t.Fatal("upgrade passed on a route without websocket: true")
	}
}
