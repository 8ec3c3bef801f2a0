// Package test holds the black-box end-to-end tests: they build the real
// portcullis binary, start it as a process, and talk to it over loopback.
package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the portcullis binary built for this run.
var binary string

const adminToken = "e2e-admin-token"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("end-to-end tests skipped in -short mode")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "portcullis-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "portcullis")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/portcullis")...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building portcullis:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// gateway is a running portcullis process.
type gateway struct {
	t         *testing.T
	cmd       *exec.Cmd
	dir       string // holds the config
	stdout    *lockedBuffer
	stderr    *lockedBuffer
	listeners map[string]string // name → actual address
	admin     string
	exited    chan struct{}
	exitErr   error
}

// startGateway writes config to a folder and runs the binary on it, binding
// every listener named in listeners on a free loopback port.
func startGateway(t *testing.T, config string, listeners ...string) *gateway {
	t.Helper()
	return startGatewayOn(t, "", config, listeners...)
}

// startGatewayOn is startGateway with a store URL ("" for a fresh SQLite
// file of the gateway's own).
func startGatewayOn(t *testing.T, storeURL, config string, listeners ...string) *gateway {
	t.Helper()
	return startGatewayWith(t, storeURL, nil, config, listeners...)
}

// startGatewayWith is startGatewayOn with extra flags for `run`.
func startGatewayWith(t *testing.T, storeURL string, flags []string, config string, listeners ...string) *gateway {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config", "gateway.yaml"), config)
	if storeURL == "" {
		storeURL = "sqlite:" + filepath.Join(dir, "portcullis.db")
	}
	args := []string{"run", "--config", filepath.Join(dir, "config"), "--store", storeURL, "--admin", "127.0.0.1:0"}
	for _, l := range listeners {
		args = append(args, "--listen", l+"=127.0.0.1:0")
	}
	args = append(args, flags...)
	g := &gateway{t: t, dir: dir, stdout: &lockedBuffer{}, stderr: &lockedBuffer{},
		listeners: map[string]string{}, exited: make(chan struct{})}
	g.cmd = exec.Command(binary, args...)
	g.cmd.Env = append(os.Environ(), "PORTCULLIS_ADMIN_TOKEN="+adminToken)
	g.cmd.Stdout = g.stdout
	g.cmd.Stderr = g.stderr
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.exitErr = g.cmd.Wait(); close(g.exited) }()
	t.Cleanup(g.stop)

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, rec := range g.logRecords() {
			switch rec["msg"] {
			case "listening":
				g.listeners[rec["listener"].(string)] = rec["addr"].(string)
			case "gateway started":
				g.admin = rec["admin"].(string)
			}
		}
		if g.admin != "" {
			return g
		}
		select {
		case <-g.exited:
			t.Fatalf("gateway exited at start: %v\nstderr:\n%s", g.exitErr, g.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("gateway did not start in 30s; stderr:\n%s", g.stderr.String())
	return nil
}

// url returns the base URL of a listener.
func (g *gateway) url(listener string) string { return "http://" + g.listeners[listener] }

// logRecords parses the process log (JSON lines on stderr).
func (g *gateway) logRecords() []map[string]any {
	return parseJSONLines(g.stderr.String())
}

// accessLog parses the access log (JSON lines on stdout).
func (g *gateway) accessLog() []map[string]any {
	return parseJSONLines(g.stdout.String())
}

func parseJSONLines(s string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// reload rewrites the config and sends SIGHUP.
func (g *gateway) reload(config string) {
	g.t.Helper()
	writeFile(g.t, filepath.Join(g.dir, "config", "gateway.yaml"), config)
	g.signal(syscall.SIGHUP)
}

func (g *gateway) signal(s os.Signal) {
	g.t.Helper()
	if err := g.cmd.Process.Signal(s); err != nil {
		g.t.Fatal(err)
	}
}

// waitLog waits until a process log record with msg appears count times.
func (g *gateway) waitLog(msg string, count int) {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n := 0
		for _, rec := range g.logRecords() {
			if rec["msg"] == msg {
				n++
			}
		}
		if n >= count {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.t.Fatalf("log %q did not appear %d times; stderr:\n%s", msg, count, g.stderr.String())
}

// waitExit waits for the process to exit and returns its exit code.
func (g *gateway) waitExit(timeout time.Duration) int {
	g.t.Helper()
	select {
	case <-g.exited:
		return g.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		g.t.Fatalf("gateway did not exit within %v", timeout)
		return -1
	}
}

func (g *gateway) stop() {
	select {
	case <-g.exited:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
	}
	if g.t.Failed() {
		g.t.Logf("gateway stderr:\n%s", g.stderr.String())
	}
}

// adminGet calls the admin API with the token.
func (g *gateway) adminGet(path string) (*http.Response, []byte) {
	g.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+g.admin+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return do(g.t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

func get(t *testing.T, url string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	return do(t, req)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// Write then rename, so a reload never reads a half-written file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a bytes.Buffer safe for a process writer and test readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
