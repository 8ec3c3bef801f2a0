package test

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// redisServer starts a private redis-server on a free loopback port and
// returns its URL and a function that stops it. In CI a missing redis-server
// fails the test; elsewhere it skips.
func redisServer(t *testing.T, port int) (url string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is required in CI")
		}
		t.Skip("redis-server not installed")
	}
	if port == 0 {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	return "redis://" + addr + "/0", stop
}

// TestClusterRateLimitIsExact: two gateway processes sharing one Redis admit
// exactly the limit between them.
func TestClusterRateLimitIsExact(t *testing.T) {
	redisURL, _ := redisServer(t, 0)
	up, hits := echoUpstream(t)
	policy := rateLimitPolicy(up.URL, 50)
	a := startGatewayWith(t, "", []string{"--redis", redisURL}, policy, "public")
	b := startGatewayWith(t, "", []string{"--redis", redisURL}, policy, "public")
	allowed, limited := spray(t, []string{a.url("public") + "/limited/x", b.url("public") + "/limited/x"}, nil)
	if allowed != 50 || limited != 150 || hits.Load() != 50 {
		t.Fatalf("two nodes admitted %d (limited %d, upstream %d); want exactly 50", allowed, limited, hits.Load())
	}
}

// TestRedisGoesAwayAndComesBack: while Redis is down a route with the default
// onStoreFailure (allow) serves and a rate limit or quota with deny answers 503; nothing
// crashes; when Redis is back, counting resumes.
func TestRedisGoesAwayAndComesBack(t *testing.T) {
	redisURL, stop := redisServer(t, 0)
	port, _ := strconv.Atoi(redisURL[strings.LastIndex(redisURL, ":")+1 : strings.LastIndex(redisURL, "/")])
	up, _ := echoUpstream(t)
	policy := strings.Replace(rateLimitPolicy(up.URL, 1000), "    - {name: limited,", `    - {name: strict, match: {pathPrefix: /strict}, to: backend, rateLimit: {requests: 1000, interval: 1h, by: route, onStoreFailure: deny}}
    - {name: metered, match: {pathPrefix: /metered}, to: backend, quota: {requests: 1000, period: day, by: route, onStoreFailure: deny}}
    - {name: limited,`, 1)
	g := startGatewayWith(t, "", []string{"--redis", redisURL}, policy, "public")
	status := func(path string) int {
		resp, _ := get(t, g.url("public")+path)
		return resp.StatusCode
	}
	if status("/limited/x") != 200 || status("/strict/x") != 200 || status("/metered/x") != 200 {
		t.Fatal("with Redis up")
	}
	stop()
	if s := status("/limited/x"); s != 200 {
		t.Errorf("allow while Redis is down: %d", s)
	}
	if s := status("/strict/x"); s != 503 {
		t.Errorf("deny while Redis is down: %d", s)
	}
	if s := status("/metered/x"); s != 503 {
		t.Errorf("a quota's deny while Redis is down: %d", s)
	}
	redisServer(t, port) // back, empty
	deadline := time.Now().Add(10 * time.Second)
	for status("/strict/x") != 200 || status("/metered/x") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("counting did not resume after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, _ := get(t, g.url("public")+"/strict/x")
	if resp.Header.Get("RateLimit-Remaining") == "" {
		t.Error("no RateLimit headers after Redis came back")
	}
	if _, metrics := g.adminGet("/metrics"); !strings.Contains(string(metrics), "portcullis_ratelimit_store_errors_total") {
		t.Error("store errors are not counted")
	}
}
