package proxy

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// idleCount reports how many connections sit in the pool.
func (t *target) idleCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.idle)
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPoolIdleTimeout(t *testing.T) {
	closed := make(chan struct{}, 10)
	srv := newRawServer(t, func(c net.Conn) {
		serveRequests(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		closed <- struct{}{}
	})
	u, err := NewUpstream(UpstreamConfig{Name: "svc", Targets: []*url.URL{srv.url()}, IdleTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	forward := func() {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "http://gw/", nil)
		if _, err := u.Forward(httptest.NewRecorder(), r, &Forwarding{Path: "/"}); err != nil {
			t.Fatal(err)
		}
	}
	forward()
	tg := u.targets[0]
	if tg.idleCount() != 1 {
		t.Fatalf("%d idle connections, want 1", tg.idleCount())
	}
	// The reaper closes it with no further traffic.
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the idle connection was never closed")
	}
	if tg.idleCount() != 0 {
		t.Errorf("%d idle connections after the timeout", tg.idleCount())
	}
	forward()
	if got := srv.accepted.Load(); got != 2 {
		t.Errorf("upstream accepted %d connections, want 2", got)
	}

	// An expired connection is never handed out, even before the reaper runs.
	tg.mu.Lock()
	for _, c := range tg.idle {
		c.idleAt = time.Now().Add(-time.Hour)
	}
	tg.mu.Unlock()
	if c := tg.get(time.Now()); c != nil {
		t.Error("an expired connection was handed out")
	}
}

func TestPoolMaxIdle(t *testing.T) {
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	var started sync.WaitGroup
	started.Add(3)
	release := make(chan struct{})
	closed := make(chan struct{}, 3)
	srv := newRawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		readHead(br)
		started.Done()
		<-release
		c.Write([]byte(resp))
		br.ReadByte() // until the proxy closes it
		closed <- struct{}{}
	})
	u, err := NewUpstream(UpstreamConfig{Name: "svc", Targets: []*url.URL{srv.url()}, MaxIdlePerTarget: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	var done sync.WaitGroup
	for range 3 {
		done.Add(1)
		go func() {
			defer done.Done()
			r := httptest.NewRequest(http.MethodGet, "http://gw/", nil)
			if _, err := u.Forward(httptest.NewRecorder(), r, &Forwarding{Path: "/"}); err != nil {
				t.Error(err)
			}
		}()
	}
	started.Wait() // three requests in flight on three connections
	close(release)
	done.Wait()
	for range 2 {
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("connections beyond MaxIdlePerTarget were kept")
		}
	}
	if n := u.targets[0].idleCount(); n != 1 {
		t.Errorf("%d idle connections, want 1", n)
	}
}

func TestUpstreamClose(t *testing.T) {
	closed := make(chan struct{}, 10)
	srv := newRawServer(t, func(c net.Conn) {
		serveRequests(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		closed <- struct{}{}
	})
	u, err := NewUpstream(UpstreamConfig{Name: "svc", Targets: []*url.URL{srv.url()}})
	if err != nil {
		t.Fatal(err)
	}
	forward := func() {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "http://gw/", nil)
		if _, err := u.Forward(httptest.NewRecorder(), r, &Forwarding{Path: "/"}); err != nil {
			t.Fatal(err)
		}
	}
	forward()
	u.Close()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close left the idle connection open")
	}
	// Still usable, without pooling.
	forward()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("a connection was pooled after Close")
	}
	if n := u.targets[0].idleCount(); n != 0 {
		t.Errorf("%d idle connections after Close", n)
	}
}

// TestPoolReuseAfterTimeoutPassed: a request's deadline may stay on a pooled
// connection and pass while it is idle; that must not make the connection
// look stale, nor fail the next request.
func TestPoolReuseAfterTimeoutPassed(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn) { serveRequests(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") })
	u := newUpstream(t, srv.url())
	for range 3 {
		r := httptest.NewRequest(http.MethodGet, "http://gw/", nil)
		w := httptest.NewRecorder()
		if _, err := u.Forward(w, r, &Forwarding{Path: "/", Timeout: 20 * time.Millisecond}); err != nil || w.Body.String() != "ok" {
			t.Fatalf("err = %v, body %q", err, w.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := srv.accepted.Load(); got != 1 {
		t.Errorf("upstream accepted %d connections, want 1", got)
	}
}
