package http1

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testpki"
)

// Generous bounds: no test asserts how fast something happens, only that
// it happens before these run out (so that no test can hang).
const (
	clientTimeout = 10 * time.Second // every client connection's deadline
	waitTimeout   = 5 * time.Second  // waiting on a handler's signal
)

// testServer is a Server serving a loopback listener for one test; the
// test's cleanup closes it and checks that Serve returned.
type testServer struct {
	t    *testing.T
	srv  *Server
	addr string
	done chan struct{} // closed when Serve returned
	err  error         // what Serve returned, once done is closed
}

// startServer serves srv on a fresh loopback listener.
func startServer(t *testing.T, srv *Server) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, srv, l)
}

// serveOn serves srv on l (a TLS listener, say).
func serveOn(t *testing.T, srv *Server, l net.Listener) *testServer {
	t.Helper()
	ts := &testServer{t: t, srv: srv, addr: l.Addr().String(), done: make(chan struct{})}
	go func() {
		ts.err = srv.Serve(l)
		close(ts.done)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		if _, ok := ts.serveResult(); !ok {
			t.Error("Serve did not return after Close")
		}
	})
	return ts
}

// serveResult waits for Serve to return; ok is false if it did not in
// time.
func (ts *testServer) serveResult() (err error, ok bool) {
	select {
	case <-ts.done:
		return ts.err, true
	case <-time.After(waitTimeout):
		return nil, false
	}
}

// client is a raw client connection: the test writes bytes and reads
// responses with http.ReadResponse.
type client struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

// dial connects to ts, with a deadline so that no read can hang.
func (ts *testServer) dial() *client {
	ts.t.Helper()
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		ts.t.Fatal(err)
	}
	return newClient(ts.t, conn)
}

func newClient(t *testing.T, conn net.Conn) *client {
	_ = conn.SetDeadline(time.Now().Add(clientTimeout))
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// write sends s as it is.
func (c *client) write(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// writeAsync sends s from another goroutine (for bodies larger than the
// socket buffers); the returned channel gets the write's error.
func (c *client) writeAsync(s string) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c.conn, s)
		errc <- err
	}()
	return errc
}

// readResponse reads one response to a request with method, and its whole
// body.
func (c *client) readResponse(method string) (*http.Response, string, error) {
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, string(b), err
}

// response is readResponse, failing the test on an error.
func (c *client) response(method string) (*http.Response, string) {
	c.t.Helper()
	resp, body, err := c.readResponse(method)
	if err != nil {
		c.t.Fatalf("reading the response to %s: %v", method, err)
	}
	return resp, body
}

// get sends a GET of path and returns its response, checking its status.
func (c *client) get(path string, wantStatus int) (*http.Response, string) {
	c.t.Helper()
	c.write("GET " + path + " HTTP/1.1\r\nHost: example.com\r\n\r\n")
	resp, body := c.response(http.MethodGet)
	if resp.StatusCode != wantStatus {
		c.t.Fatalf("GET %s: status %d, want %d (body %q)", path, resp.StatusCode, wantStatus, body)
	}
	return resp, body
}

// expectClosed checks that the server closes the connection without
// sending anything more.
func (c *client) expectClosed() {
	c.t.Helper()
	b, err := io.ReadAll(c.br)
	if err != nil && !isReset(err) {
		c.t.Fatalf("waiting for the server to close the connection: %v (read %q)", err, b)
	}
	if len(b) > 0 {
		c.t.Fatalf("read %q before the connection closed, want nothing", b)
	}
}

// expectOpen checks that the connection still carries requests: a GET on
// it is answered.
func (c *client) expectOpen() {
	c.t.Helper()
	c.write("GET /still-open HTTP/1.1\r\nHost: example.com\r\n\r\n")
	if _, _, err := c.readResponse(http.MethodGet); err != nil {
		c.t.Fatalf("the connection was not kept: %v", err)
	}
}

// expectSilence checks that nothing arrives within d (a negative check:
// d only needs to be long enough for bytes already sent to arrive).
func (c *client) expectSilence(d time.Duration) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	b, err := c.br.Peek(1)
	_ = c.conn.SetReadDeadline(time.Now().Add(clientTimeout))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("got %q, %v; want nothing for %v", b, err, d)
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}

// recv waits for a value on ch.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for the handler")
		panic("unreachable")
	}
}

// signal closes a channel once, from whichever goroutine gets there first.
type signal struct {
	once sync.Once
	ch   chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (s *signal) fire() { s.once.Do(func() { close(s.ch) }) }

// wait waits for the signal; false if it did not come in time.
func (s *signal) wait() bool {
	select {
	case <-s.ch:
		return true
	case <-time.After(waitTimeout):
		return false
	}
}

// okHandler answers 200 "ok".
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "ok")
})

// syncBuffer is a bytes.Buffer safe to write from the server's goroutines
// (a slog handler's output).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// selfSignedTLS makes a server certificate for 127.0.0.1, from a CA made
// up now.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	cert := testpki.NewCA(t, "http1 test CA").KeyPair(t, "http1 test", "127.0.0.1")
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
}

// headLines splits a raw response head into its lines, for tests that
// check the exact fields sent.
func headLines(head string) []string {
	return strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
}

// readRawHead reads a response head as bytes, up to its empty line.
func (c *client) readRawHead() string {
	c.t.Helper()
	var sb strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			c.t.Fatalf("reading a response head: %v (read %q)", err, sb.String())
		}
		if line == "\r\n" {
			return sb.String()
		}
	}
}

// fieldValues returns the values of the field name in a raw head's lines,
// in order (name compared case-insensitively).
func fieldValues(lines []string, name string) []string {
	var vs []string
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(k, name) {
			vs = append(vs, strings.TrimSpace(v))
		}
	}
	return vs
}
