package http1

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// blockingServer serves "/block" by signalling entered and waiting for
// release, everything else with "ok".
func blockingServer(t *testing.T, srv *Server) (ts *testServer, entered, release *signal) {
	entered, release = newSignal(), newSignal()
	t.Cleanup(release.fire)
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered.fire()
			release.wait()
		}
		_, _ = io.WriteString(w, "ok")
	})
	return startServer(t, srv), entered, release
}

// TestShutdown pins graceful shutdown: idle connections close at once, a
// request in flight is answered (with Connection: close) before Shutdown
// returns nil, no new connection is taken, and Serve returns
// http.ErrServerClosed.
func TestShutdown(t *testing.T) {
	ts, entered, release := blockingServer(t, &Server{})
	idle := ts.dial()
	idle.get("/", http.StatusOK)
	fresh := ts.dial()
	busy := ts.dial()
	busy.write("GET /block HTTP/1.1\r\nHost: h\r\n\r\n")
	if !entered.wait() {
		t.Fatal("the handler did not run")
	}

	shutdown := make(chan error, 1)
	go func() { shutdown <- ts.srv.Shutdown(context.Background()) }()
	idle.expectClosed()
	fresh.expectClosed()
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		_ = c.SetDeadline(time.Now().Add(clientTimeout))
		if n, _ := c.Read(make([]byte, 1)); n > 0 {
			t.Error("a connection after Shutdown was served")
		}
		_ = c.Close()
	}

	release.fire()
	resp, body := busy.response(http.MethodGet)
	if body != "ok" || !resp.Close {
		t.Errorf("in-flight answer %q, close %v; want ok with Connection: close", body, resp.Close)
	}
	busy.expectClosed()
	if err := recv(t, shutdown); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err, ok := ts.serveResult(); !ok || err != http.ErrServerClosed {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
}

// TestShutdownContextExpires pins that Shutdown returns its context's
// error when a request is still in flight then.
func TestShutdownContextExpires(t *testing.T) {
	ts, entered, release := blockingServer(t, &Server{})
	busy := ts.dial()
	busy.write("GET /block HTTP/1.1\r\nHost: h\r\n\r\n")
	if !entered.wait() {
		t.Fatal("the handler did not run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want context.DeadlineExceeded", err)
	}
	release.fire()
	if resp, _ := busy.response(http.MethodGet); !resp.Close {
		t.Error("the in-flight answer does not say Connection: close")
	}
}

// TestClose pins that Close closes every connection at once, busy ones
// included, and that Serve returns http.ErrServerClosed.
func TestClose(t *testing.T) {
	ts, entered, release := blockingServer(t, &Server{})
	idle := ts.dial()
	idle.get("/", http.StatusOK)
	busy := ts.dial()
	busy.write("GET /block HTTP/1.1\r\nHost: h\r\n\r\n")
	if !entered.wait() {
		t.Fatal("the handler did not run")
	}
	if err := ts.srv.Close(); err != nil {
		t.Fatal(err)
	}
	idle.expectClosed()
	busy.expectClosed()
	if err, ok := ts.serveResult(); !ok || err != http.ErrServerClosed {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
	release.fire()
}

// TestServeAfterShutdown pins that Serve on a server already shut down
// returns http.ErrServerClosed at once.
func TestServeAfterShutdown(t *testing.T) {
	srv := &Server{Handler: okHandler}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := srv.Serve(l); err != http.ErrServerClosed {
		t.Errorf("Serve: %v, want http.ErrServerClosed", err)
	}
}

// TestServeListenerClosed pins that Serve returns the listener's error
// when the listener is closed under it without a shutdown.
func TestServeListenerClosed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := serveOn(t, &Server{Handler: okHandler}, l)
	ts.dial().get("/", http.StatusOK) // Serve is accepting
	_ = l.Close()
	if err, ok := ts.serveResult(); !ok || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve returned %v, want net.ErrClosed", err)
	}
}

// TestReadHeaderTimeout pins that a head that stalls midway is given
// ReadHeaderTimeout, after which the connection closes without an
// answer; a head that completes in time is served.
func TestReadHeaderTimeout(t *testing.T) {
	ts := startServer(t, &Server{Handler: okHandler, ReadHeaderTimeout: 300 * time.Millisecond})
	c := ts.dial()
	c.write("GET / HTTP/1.1\r\nHo")
	c.expectClosed()

	c = ts.dial()
	c.write("GET / HTTP/1.1\r\n")
	time.Sleep(20 * time.Millisecond)
	c.write("Host: h\r\n\r\n")
	if _, body := c.response(http.MethodGet); body != "ok" {
		t.Errorf("answer %q", body)
	}
}

// TestIdleTimeout pins that a connection waiting for a request longer
// than IdleTimeout is closed, after a request or before any.
func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, &Server{Handler: okHandler, IdleTimeout: 300 * time.Millisecond})
	c := ts.dial()
	c.get("/", http.StatusOK)
	c.expectClosed()

	ts.dial().expectClosed()
}

// TestHandlerPanic pins that a handler's panic closes its connection
// without an answer and is logged with its value, while the server goes
// on serving other connections; http.ErrAbortHandler is not logged; a
// nil Log is fine.
func TestHandlerPanic(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/abort":
			panic(http.ErrAbortHandler)
		case "/panic-after-flush":
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("late boom")
		}
		_, _ = io.WriteString(w, "ok")
	})
	var logs syncBuffer
	ts := startServer(t, &Server{Handler: handler, Log: slog.New(slog.NewTextHandler(&logs, nil))})

	other := ts.dial()
	other.get("/", http.StatusOK)

	c := ts.dial()
	c.write("GET /abort HTTP/1.1\r\nHost: h\r\n\r\n")
	c.expectClosed()
	if s := logs.String(); s != "" {
		t.Errorf("http.ErrAbortHandler was logged: %s", s)
	}

	c = ts.dial()
	c.write("GET /panic HTTP/1.1\r\nHost: h\r\n\r\n")
	c.expectClosed()
	if s := logs.String(); !strings.Contains(s, "panic serving a request") || !strings.Contains(s, "boom") {
		t.Errorf("log %q, want the panic and its value", s)
	}

	c = ts.dial()
	c.write("GET /panic-after-flush HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, _, err := c.readResponse(http.MethodGet)
	if resp == nil || err == nil {
		t.Errorf("an answer cut by a panic read whole: %v, %v", resp, err)
	}

	other.get("/", http.StatusOK)
	ts.dial().get("/", http.StatusOK)

	quiet := startServer(t, &Server{Handler: handler})
	c = quiet.dial()
	c.write("GET /panic HTTP/1.1\r\nHost: h\r\n\r\n")
	c.expectClosed()
	quiet.dial().get("/", http.StatusOK)
}
