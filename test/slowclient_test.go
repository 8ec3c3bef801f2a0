package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSlowClients: a client that never finishes its headers is cut off after
// the header timeout (10 s), and one whose body stalls after
// limits.bodyIdleTimeout; neither holds a connection open for long.
func TestSlowClients(t *testing.T) {
	up, _ := echoUpstream(t)
	cfg := strings.Replace(basicConfig(up.URL), "spec:\n  listeners:", "spec:\n  limits: {bodyIdleTimeout: 1s}\n  listeners:", 1)
	g := startGateway(t, cfg, "public")
	addr := g.listeners["public"]

	// Slow body: 10 of 100 promised bytes, then nothing.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprint(conn, "POST /public/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\n0123456789")
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode < 400 {
			t.Errorf("a stalled body was answered %d", resp.StatusCode)
		}
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("a stalled body held the connection for %v", took)
	}
	t.Logf("stalled body: answered after %v (%v)", time.Since(start).Round(time.Millisecond), statusOrErr(resp, err))

	// Slow headers: a request line and one header, then nothing.
	conn2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	start = time.Now()
	fmt.Fprint(conn2, "GET /public/x HTTP/1.1\r\nHost: gw\r\n")
	_ = conn2.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.Copy(io.Discard, conn2) // until the gateway closes it
	if err != nil {
		t.Fatalf("the gateway did not close a connection with unfinished headers: %v", err)
	}
	t.Logf("unfinished headers: connection closed after %v", time.Since(start).Round(time.Millisecond))
}

func statusOrErr(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}
