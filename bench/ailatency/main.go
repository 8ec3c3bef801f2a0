// Command ailatency measures what the AI gateway adds to a chat completion's
// latency (`make bench` runs it after the wrk table): a fake OpenAI server
// (internal/ai/llmtest) answers the same request directly and through a
// Portcullis process with an ai route in front of it, one request at a time
// (latency, not throughput), the two alternating so that both see the same
// machine. It prints the p50 and p99 of each and the difference: the
// gateway's added latency. Two more rows send the same request through a
// plain proxy route of the same process and through nginx (when installed):
// the cost of an extra process hop alone, which the ai route's figure
// includes, and nginx's for scale.
//
//	go run ./bench/ailatency -bin bin/portcullis [-n 5000] [-stream]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/ai/llmtest"
)

const providerKey = "sk-bench-0123456789"

func main() {
	bin := flag.String("bin", "bin/portcullis", "the portcullis binary to measure")
	n := flag.Int("n", 5000, "requests per target (after 500 of warm-up)")
	stream := flag.Bool("stream", false, "measure streaming calls (to the end of the stream)")
	flag.Parse()
	if err := run(*bin, *n, *stream); err != nil {
		fmt.Fprintln(os.Stderr, "ailatency:", err)
		os.Exit(1)
	}
}

func run(bin string, n int, stream bool) error {
	fake := llmtest.NewOpenAI(providerKey)
	defer fake.Close()
	dir, err := os.MkdirTemp("", "ailatency")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	port, admin := freePort(), freePort()
	config := fmt.Sprintf(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: ailatency}
spec:
  accessLog: {enabled: false}
  listeners: [{name: bench, address: 127.0.0.1, port: %d}]
  routes:
    - name: llm
      match: {pathPrefix: /llm/}
      ai: {providers: [fake]}
    - name: proxied
      match: {pathPrefix: /v1/}
      to: fakesvc
---
apiVersion: gateway/v1
kind: Service
metadata: {name: fakesvc}
spec: {url: %s}
---
apiVersion: gateway/v1
kind: AIProvider
metadata: {name: fake}
spec: {type: openai, baseURL: %s, apiKeyEnv: BENCH_PROVIDER_KEY, models: [gpt-4o-mini]}
`, port, strings.TrimSuffix(fake.URL, "/v1"), fake.URL)
	if err := os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(config), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "gateway.yaml"), "--store", "sqlite:"+filepath.Join(dir, "p.db"),
		"--admin", fmt.Sprintf("127.0.0.1:%d", admin))
	cmd.Env = append(os.Environ(), "BENCH_PROVIDER_KEY="+providerKey)
	logFile, err := os.Create(filepath.Join(dir, "portcullis.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()

	body := `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the benchmark in five words please."}],"max_tokens":16}`
	if stream {
		body = strings.TrimSuffix(body, "}") + `,"stream":true}`
	}
	direct := target{url: fake.URL + "/chat/completions", header: http.Header{"Authorization": {"Bearer " + providerKey}}}
	gateway := target{url: fmt.Sprintf("http://127.0.0.1:%d/llm/v1/chat/completions", port), header: http.Header{}}
	if err := waitReady(gateway, body); err != nil {
		log, _ := os.ReadFile(logFile.Name())
		return fmt.Errorf("%v\n%s", err, log)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	proxied := target{url: fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", port), header: direct.header}
	var viaNginx *target
	if nginxPort, stop, err := startNginx(dir, strings.TrimPrefix(strings.TrimSuffix(fake.URL, "/v1"), "http://")); err != nil {
		fmt.Fprintln(os.Stderr, "ailatency: no nginx row:", err)
	} else {
		defer stop()
		viaNginx = &target{url: fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", nginxPort), header: direct.header}
		if err := waitReady(*viaNginx, body); err != nil {
			return err
		}
	}
	var d, g, pr, ng []time.Duration
	for i := range n + 500 {
		dt, err := direct.call(client, body)
		if err != nil {
			return err
		}
		gt, err := gateway.call(client, body)
		if err != nil {
			return err
		}
		pt, err := proxied.call(client, body)
		if err != nil {
			return err
		}
		var nt time.Duration
		if viaNginx != nil {
			if nt, err = viaNginx.call(client, body); err != nil {
				return err
			}
		}
		if i >= 500 {
			d, g, pr, ng = append(d, dt), append(g, gt), append(pr, pt), append(ng, nt)
		}
	}
	kind := "chat completion"
	if stream {
		kind = "streamed chat completion (to [DONE])"
	}
	dp50, dp99 := percentile(d, 50), percentile(d, 99)
	gp50, gp99 := percentile(g, 50), percentile(g, 99)
	pp50, pp99 := percentile(pr, 50), percentile(pr, 99)
	fmt.Printf("| %s, direct to the fake provider | %s | %s | |\n", kind, us(dp50), us(dp99))
	if viaNginx != nil {
		np50, np99 := percentile(ng, 50), percentile(ng, 99)
		fmt.Printf("| %s, through nginx proxying it (keepalive upstream) | %s | %s | +%s p50, +%s p99 |\n", kind, us(np50), us(np99), us(np50-dp50), us(np99-dp99))
	}
	fmt.Printf("| %s, through a portcullis route proxying it as plain HTTP | %s | %s | +%s p50, +%s p99 |\n", kind, us(pp50), us(pp99), us(pp50-dp50), us(pp99-dp99))
	fmt.Printf("| %s, through a portcullis ai route | %s | %s | +%s p50, +%s p99 |\n", kind, us(gp50), us(gp99), us(gp50-dp50), us(gp99-dp99))
	return nil
}

type target struct {
	url    string
	header http.Header
}

// call sends one request and reads the whole answer.
func (t target) call(c *http.Client, body string) (time.Duration, error) {
	req, err := http.NewRequest("POST", t.url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = t.header.Clone()
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%s: %d %s", t.url, resp.StatusCode, b)
	}
	if !bytes.Contains(b, []byte("echo:")) {
		return 0, fmt.Errorf("%s: unexpected answer %s", t.url, b)
	}
	return elapsed, nil
}

// waitReady polls the gateway until its route answers (30 s at most).
func waitReady(t target, body string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := t.call(http.DefaultClient, body)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway did not answer: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startNginx starts a private nginx (one worker, keep-alive to the
// upstream, as bench/run.sh's proxy) in front of upstream (host:port) and
// returns its port and how to stop it; an error when nginx is not installed.
func startNginx(dir, upstream string) (int, func(), error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/nginx"); statErr != nil {
			return 0, nil, err
		}
		bin = "/usr/sbin/nginx"
	}
	port := freePort()
	prefix := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return 0, nil, err
	}
	conf := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    keepalive_requests 1000000;
    upstream fake { server %[2]s; keepalive 16; }
    server {
        listen 127.0.0.1:%[3]d;
        location / {
            proxy_pass http://fake;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
`, prefix, upstream, port)
	if err := os.WriteFile(filepath.Join(prefix, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", filepath.Join(prefix, "nginx.conf"), "-e", filepath.Join(prefix, "error.log"), "-g", "daemon off;")
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	return port, func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }, nil
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func us(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
