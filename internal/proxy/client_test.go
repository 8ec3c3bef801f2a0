package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// clientServer is an upstream for RoundTrip tests that counts its
// connections.
func clientServer(t *testing.T, h http.HandlerFunc) (*Upstream, *url.URL, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	u, err := NewUpstream(UpstreamConfig{Name: "api", Targets: []*url.URL{base}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u, base, &conns
}

func TestRoundTripPoolsConnections(t *testing.T) {
	u, base, conns := clientServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/chunked" {
			w.Write([]byte("part one, "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
			return
		}
		w.Header().Set("X-Seen", r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("X-Api-Key")+" "+string(b))
		w.Write([]byte("ok"))
	})
	client := &http.Client{Transport: u}
	for i := range 5 {
		path := "/v1/a%2Fb:go?alt=sse"
		req, _ := http.NewRequest("POST", base.String()+path, strings.NewReader("body"))
		req.Header.Set("X-Api-Key", "k")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" || resp.Header.Get("X-Seen") != "POST /v1/a%2Fb:go?alt=sse k body" || resp.ContentLength != 2 {
			t.Fatalf("%d: %d %q %v", i, resp.StatusCode, b, resp.Header)
		}
		resp, err = client.Get(base.String() + "/chunked")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "part one, part two" {
			t.Fatalf("chunked body %q", b)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 10 sequential calls", n)
	}
}

func TestRoundTripEarlyCloseAndCancel(t *testing.T) {
	release := make(chan struct{})
	u, base, conns := clientServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: 1\n\n"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	client := &http.Client{Transport: u}
	// A body closed before its end: the connection is not reused.
	resp, err := client.Get(base.String() + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "data: 1\n\n" {
		t.Fatalf("%q %v", buf, err)
	}
	resp.Body.Close()
	// Cancelling the context aborts a read that waits for the upstream.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base.String()+"/stream", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, buf)
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("a cancelled read ended cleanly")
	}
	resp.Body.Close()
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (neither reused)", n)
	}
}

func TestRoundTripRefusesOtherHosts(t *testing.T) {
	u, base, _ := clientServer(t, func(w http.ResponseWriter, r *http.Request) {})
	for _, raw := range []string{"http://example.com/", "https://" + base.Host + "/"} {
		req, _ := http.NewRequest("GET", raw, nil)
		if _, err := u.RoundTrip(req); err == nil {
			t.Errorf("%s was sent", raw)
		}
	}
}

func TestRoundTripDeadline(t *testing.T) {
	u, base, _ := clientServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base.String()+"/", nil)
	if _, err := u.RoundTrip(req); err == nil {
		t.Fatal("no error past the deadline")
	}
}
