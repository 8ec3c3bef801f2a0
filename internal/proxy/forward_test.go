package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
)

// seen is what a capturing upstream saw of one request.
type seen struct {
	host, uri string
	header    http.Header
	body      []byte
	chunked   bool
	length    int64
}

// newCapture starts an upstream that reports every request it gets and
// answers 200 "ok".
func newCapture(t *testing.T) (*httptest.Server, chan seen) {
	t.Helper()
	ch := make(chan seen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("upstream reading body: %v", err)
		}
		ch <- seen{host: r.Host, uri: r.RequestURI, header: r.Header.Clone(), body: b,
			chunked: slices.Contains(r.TransferEncoding, "chunked"), length: r.ContentLength}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func next(t *testing.T, ch chan seen) seen {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("upstream saw no request")
		return seen{}
	}
}

// rawDo writes req as is to addr and reads one response.
func rawDo(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestForwardScrubsAndSetsHeaders(t *testing.T) {
	up, ch := newCapture(t)
	u := newUpstream(t, mustURL(t, up.URL))
	g := newGateway(t, u, func(r *http.Request, f *Forwarding) {
		f.ExtraHeaders = [][2]string{{"X-Consumer-Name", "alice"}}
	})
	addr := g.Listener.Addr().String()
	resp, body := rawDo(t, addr, "GET /orders HTTP/1.1\r\n"+
		"Host: api.example.com\r\n"+
		"Connection: keep-alive, X-Custom-Hop\r\n"+
		"X-Custom-Hop: secret\r\n"+
		"Keep-Alive: timeout=5\r\n"+
		"Proxy-Connection: keep-alive\r\n"+
		"Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"+
		"Te: trailers\r\n"+
		"Trailer: X-Sum\r\n"+
		"Upgrade: h2c\r\n"+
		"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"+
		"X-Forwarded-For: 6.6.6.6\r\n"+
		"X-Forwarded-Proto: ftp\r\n"+
		"X-Forwarded-Host: evil.example\r\n"+
		"Forwarded: for=6.6.6.6\r\n"+
		"X-Real-IP: 6.6.6.6\r\n"+
		"X-Request-Id: client-chosen\r\n"+
		"X-Consumer-Name: mallory\r\n"+
		"x-consumer-roles: admin\r\n"+
		"Accept: application/json\r\n"+
		"Authorization: Bearer t0k3n\r\n"+
		"X-Other: a\r\n"+
		"X-Other: b\r\n"+
		"Cookie: a=1\r\n"+
		"Cookie: b=2\r\n"+
		"\r\n")
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	s := next(t, ch)
	if want := mustURL(t, up.URL).Host; s.host != want {
		t.Errorf("Host = %q, want the target's %q", s.host, want)
	}
	want := map[string][]string{
		"X-Forwarded-For":   {"192.0.2.1"},
		"X-Forwarded-Proto": {"http"},
		"X-Forwarded-Host":  {"api.example.com"},
		"X-Request-Id":      {"req-1"},
		"X-Consumer-Name":   {"alice"},
		"Accept":            {"application/json"},
		"Authorization":     {"Bearer t0k3n"},
		"X-Other":           {"a", "b"},
		"Cookie":            {"a=1; b=2"}, // one field, as HTTP/2 to HTTP/1.1 needs
		"Accept-Encoding":   nil,          // the proxy adds nothing of its own
	}
	for k, v := range want {
		if got := s.header[k]; !slices.Equal(got, v) {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"Connection", "X-Custom-Hop", "Keep-Alive", "Proxy-Connection",
		"Proxy-Authorization", "Te", "Trailer", "Upgrade", "Http2-Settings", "Forwarded",
		"X-Real-Ip", "X-Consumer-Roles", "Content-Length", "Transfer-Encoding"} {
		if v, ok := s.header[k]; ok {
			t.Errorf("%s reached the upstream: %q", k, v)
		}
	}
}

func TestForwardKeepsTrustedForwardedFor(t *testing.T) {
	up, ch := newCapture(t)
	u := newUpstream(t, mustURL(t, up.URL))
	g := newGateway(t, u, func(r *http.Request, f *Forwarding) {
		f.PriorForwardedFor = r.Header.Get("X-Forwarded-For")
	})
	req, _ := http.NewRequest(http.MethodGet, g.URL+"/", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.5, 198.51.100.7")
	g.do(t, req)
	if got := next(t, ch).header.Get("X-Forwarded-For"); got != "203.0.113.5, 198.51.100.7, 192.0.2.1" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
}

func TestForwardPathAndQuery(t *testing.T) {
	up, ch := newCapture(t)
	for _, tc := range []struct {
		name, target, path, query, want string
	}{
		{"plain", up.URL, "/orders/42", "", "/orders/42"},
		{"query kept raw", up.URL, "/search", "q=a%20b&x=%2F&y=1;2", "/search?q=a%20b&x=%2F&y=1;2"},
		{"escapes kept", up.URL, "/a%20b/%2e%2E", "", "/a%20b/%2e%2E"},
		{"unsendable bytes escaped", up.URL, "/a b/c?d#e/\x01é", "k=v w#x", "/a%20b/c%3Fd%23e/%01%C3%A9?k=v%20w%23x"},
		{"empty path", up.URL, "", "", "/"},
		{"target prefix", up.URL + "/base/", "/orders", "a=1", "/base/orders?a=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, mustURL(t, tc.target))
			r := httptest.NewRequest(http.MethodGet, "http://gw/x", nil)
			r.URL.RawQuery = tc.query
			w := httptest.NewRecorder()
			if _, err := u.Forward(w, r, &Forwarding{Path: tc.path}); err != nil {
				t.Fatal(err)
			}
			if got := next(t, ch).uri; got != tc.want {
				t.Errorf("request-target = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestForwardRequestBodies(t *testing.T) {
	up, ch := newCapture(t)
	u := newUpstream(t, mustURL(t, up.URL))
	g := newGateway(t, u, nil)

	t.Run("content-length", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, g.URL+"/", strings.NewReader("hello body"))
		g.do(t, req)
		s := next(t, ch)
		if string(s.body) != "hello body" || s.length != 10 || s.chunked {
			t.Errorf("upstream got %q (length %d, chunked %v)", s.body, s.length, s.chunked)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte("part one, "))
			pw.Write([]byte("part two"))
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/", pr)
		g.do(t, req)
		s := next(t, ch)
		if string(s.body) != "part one, part two" || !s.chunked {
			t.Errorf("upstream got %q (chunked %v)", s.body, s.chunked)
		}
	})
	t.Run("empty POST says Content-Length: 0", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/", nil)
		g.do(t, req)
		s := next(t, ch)
		if s.length != 0 || s.chunked || s.header.Get("Content-Length") != "0" {
			t.Errorf("upstream got Content-Length %q, chunked %v", s.header.Get("Content-Length"), s.chunked)
		}
	})
	t.Run("GET sends no framing", func(t *testing.T) {
		g.get(t, "/")
		s := next(t, ch)
		if s.header.Get("Content-Length") != "" || s.chunked {
			t.Errorf("upstream got Content-Length %q, chunked %v", s.header.Get("Content-Length"), s.chunked)
		}
	})
}

func TestForwardExpectContinue(t *testing.T) {
	up, ch := newCapture(t)
	u := newUpstream(t, mustURL(t, up.URL))
	g := newGateway(t, u, nil)
	c, err := net.Dial("tcp", g.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	br := bufio.NewReader(c)
	if line, _ := br.ReadString('\n'); line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, want the gateway's 100 Continue", line)
	}
	br.ReadString('\n')
	io.WriteString(c, "hello")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("response %v, %v", resp, err)
	}
	if s := next(t, ch); string(s.body) != "hello" || s.header.Get("Expect") != "" {
		t.Errorf("upstream got %q, Expect %q", s.body, s.header.Get("Expect"))
	}
}

// TestForwardStreamsChunkedRequestBody: a chunked request body reaches the
// upstream as it comes; its second part is only sent once the upstream has
// received the first.
func TestForwardStreamsChunkedRequestBody(t *testing.T) {
	first := make(chan string)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		n, _ := r.Body.Read(buf)
		first <- string(buf[:n])
		rest, _ := io.ReadAll(r.Body)
		w.Write(rest)
	}))
	defer up.Close()
	u := newUpstream(t, mustURL(t, up.URL))
	g := newGateway(t, u, nil)
	pr, pw := io.Pipe()
	go func() {
		pw.Write(bytes.Repeat([]byte("a"), 40<<10))
		// The upstream must see the first part while the client still
		// holds the rest back.
		if got := <-first; len(got) == 0 || strings.Trim(got, "a") != "" {
			t.Errorf("first part at the upstream: %q", got)
		}
		pw.Write([]byte("tail"))
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/", pr)
	_, body := g.do(t, req)
	if !strings.HasSuffix(body, "tail") {
		t.Errorf("body ends %q", body[max(0, len(body)-10):])
	}
}

func TestForwardResponseFraming(t *testing.T) {
	for _, tc := range []struct {
		name, resp, body string
		reused           bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello", true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n", "hello world", true},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nuntil the end", "until the end", false},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "ok", false},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", false},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", "ok", true},
		{"interim skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRawServer(t, func(c net.Conn) {
				if tc.reused {
					serveRequests(c, tc.resp)
					return
				}
				readHead(bufio.NewReader(c))
				io.WriteString(c, tc.resp)
			})
			u := newUpstream(t, srv.url())
			g := newGateway(t, u, nil)
			for i := range 3 {
				resp, body := g.get(t, "/")
				if resp.StatusCode != http.StatusOK || body != tc.body {
					t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, body, tc.body)
				}
				if o := g.outcome(t); o.err != nil || o.res.Status != 200 || o.res.BytesWritten != int64(len(tc.body)) {
					t.Fatalf("request %d: Forward = %+v, %v", i, o.res, o.err)
				}
			}
			want := int64(3)
			if tc.reused {
				want = 1
			}
			if got := srv.accepted.Load(); got != want {
				t.Errorf("upstream accepted %d connections, want %d", got, want)
			}
		})
	}
}

func TestForwardResponseHeaders(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn) {
		serveRequests(c, "HTTP/1.1 201 Created\r\n"+
			"content-type: text/plain\r\n"+
			"Connection: keep-alive, X-Hop\r\n"+
			"X-Hop: secret\r\n"+
			"Keep-Alive: timeout=5\r\n"+
			"Proxy-Connection: keep-alive\r\n"+
			"Upgrade: h2c\r\n"+
			"Set-Cookie: a=1\r\n"+
			"Set-Cookie: b=2\r\n"+
			"X-Request-Id: upstream-id\r\n"+
			"Content-Length: 2\r\n"+
			"\r\nok")
	})
	u := newUpstream(t, srv.url())
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "gateway-id") // the gateway's, set before forwarding
		if _, err := u.Forward(w, r, &Forwarding{Path: "/"}); err != nil {
			t.Error(err)
		}
	}))
	defer up.Close()
	resp, err := http.Get(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusCreated || h.Get("Content-Type") != "text/plain" ||
		!slices.Equal(h["Set-Cookie"], []string{"a=1", "b=2"}) || !slices.Equal(h["X-Request-Id"], []string{"gateway-id"}) ||
		resp.ContentLength != 2 {
		t.Errorf("got %d %v", resp.StatusCode, h)
	}
	for _, k := range []string{"X-Hop", "Keep-Alive", "Proxy-Connection", "Upgrade"} {
		if v, ok := h[k]; ok {
			t.Errorf("%s reached the client: %q", k, v)
		}
	}
}

func TestForwardServerSentEvents(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			io.WriteString(w, "data: event "+strconv.Itoa(i)+"\n\n")
			w.(http.Flusher).Flush()
			<-release // the next event waits until the client has this one
		}
	}))
	defer up.Close()
	defer close(release)
	u := newUpstream(t, mustURL(t, up.URL))
	g := newGateway(t, u, nil)
	resp, err := g.Client().Get(g.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
	}
	events := make(chan string)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line := sc.Text(); line != "" {
				events <- line
			}
		}
	}()
	for i := range 3 {
		select {
		case ev := <-events:
			if want := "data: event " + strconv.Itoa(i); ev != want {
				t.Fatalf("event %q, want %q", ev, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d did not arrive while the upstream waited", i)
		}
		release <- struct{}{}
	}
}

func TestForwardStreamEndsWhenClientLeaves(t *testing.T) {
	upstreamDone := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: hello\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the proxy hung up
		close(upstreamDone)
	}))
	defer up.Close()
	u := newUpstream(t, mustURL(t, up.URL))
	g := newGateway(t, u, nil) // Timeout set: the watch starts with the stream
	resp, err := g.Client().Get(g.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if line != "data: hello\n" {
		t.Fatalf("first line %q", line)
	}
	resp.Body.Close()
	g.CloseClientConnections()
	select {
	case <-upstreamDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream stream outlived the client")
	}
}

func TestForwardBodilessResponses(t *testing.T) {
	for _, tc := range []struct {
		name, method, resp string
		status             int
		length             string
	}{
		{"HEAD", http.MethodHead, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 200, "1234"},
		{"HEAD chunked", http.MethodHead, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200, ""},
		{"204", http.MethodDelete, "HTTP/1.1 204 No Content\r\n\r\n", 204, ""},
		{"304", http.MethodGet, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 1234\r\n\r\n", 304, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRawServer(t, func(c net.Conn) { serveRequests(c, tc.resp) })
			u := newUpstream(t, srv.url())
			g := newGateway(t, u, nil)
			for range 3 {
				req, _ := http.NewRequest(tc.method, g.URL+"/", nil)
				resp, body := g.do(t, req)
				if resp.StatusCode != tc.status || body != "" {
					t.Fatalf("got %d %q", resp.StatusCode, body)
				}
				if got := resp.Header.Get("Content-Length"); got != tc.length {
					t.Errorf("Content-Length = %q, want %q", got, tc.length)
				}
			}
			if got := srv.accepted.Load(); got != 1 {
				t.Errorf("upstream accepted %d connections, want 1", got)
			}
		})
	}
}

// assertProblem checks that resp is the gateway's problem+json with status,
// and that it names neither the upstream nor anything it sent.
func assertProblem(t *testing.T, resp *http.Response, body string, status int, upstreamAddr string) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("got %d %q %q, want %d problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), body, status)
	}
	host, port, _ := net.SplitHostPort(upstreamAddr)
	if strings.Contains(body, upstreamAddr) || strings.Contains(body, ":"+port) || strings.Contains(body, host) {
		t.Errorf("body names the upstream: %s", body)
	}
	if resp.Header.Get("X-Leak") != "" {
		t.Errorf("upstream header leaked into the error")
	}
}

func TestForwardRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	u := newUpstream(t, mustURL(t, "http://"+addr))
	g := newGateway(t, u, nil)
	resp, body := g.get(t, "/")
	assertProblem(t, resp, body, http.StatusBadGateway, addr)
	o := g.outcome(t)
	var he *httperr.Error
	var pe *Error
	if !errors.As(o.err, &he) || he.Decision != httperr.DecisionUpstreamError || he.Public != "upstream unavailable" ||
		!errors.As(o.err, &pe) || pe.Addr != addr || pe.Service != "svc" {
		t.Errorf("error = %#v", o.err)
	}
}

func TestForwardTimeout(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := newRawServer(t, func(c net.Conn) {
		readHead(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Leak: yes\r\nContent-Le") // then silence
		io.Copy(io.Discard, c)                                            // until the proxy gives up
		closed <- struct{}{}
	})
	u := newUpstream(t, srv.url())
	g := newGateway(t, u, func(r *http.Request, f *Forwarding) { f.Timeout = 100 * time.Millisecond })
	resp, body := g.get(t, "/")
	assertProblem(t, resp, body, http.StatusGatewayTimeout, srv.ln.Addr().String())
	if o := g.outcome(t); httperr.As(o.err).Public != "upstream timed out" {
		t.Errorf("error = %v", o.err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the timed-out connection was kept open")
	}
	if n := u.targets[0].idleCount(); n != 0 {
		t.Errorf("%d connections pooled after a timeout", n)
	}
}

// TestForwardWithoutTimeoutEndsWhenClientLeaves: with no Timeout, a client
// that goes away must not leave the request waiting on the upstream.
func TestForwardWithoutTimeoutEndsWhenClientLeaves(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := newRawServer(t, func(c net.Conn) {
		readHead(bufio.NewReader(c))
		io.Copy(io.Discard, c) // never answers
		closed <- struct{}{}
	})
	u := newUpstream(t, srv.url())
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodGet, "http://gw/", nil).WithContext(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := u.Forward(httptest.NewRecorder(), r, &Forwarding{Path: "/"})
		done <- err
	}()
	waitFor(t, "the upstream connection", func() bool { return srv.accepted.Load() == 1 })
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Forward kept waiting after the client left")
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream connection was kept open")
	}
}

func TestForwardMalformedResponses(t *testing.T) {
	for name, resp := range map[string]string{
		"not HTTP":                 "SSH-2.0-OpenSSH_9.2\r\n\r\n",
		"HTTP/2 status line":       "HTTP/2.0 200 OK\r\n\r\n",
		"short status":             "HTTP/1.1 20 OK\r\n\r\n",
		"obs-fold":                 "HTTP/1.1 200 OK\r\nX-Leak: a\r\n b\r\nContent-Length: 0\r\n\r\n",
		"space before colon":       "HTTP/1.1 200 OK\r\nX-Leak: a\r\nContent-Length : 0\r\n\r\n",
		"CL and TE":                "HTTP/1.1 200 OK\r\nX-Leak: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"conflicting CL":           "HTTP/1.1 200 OK\r\nX-Leak: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"CL list":                  "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc",
		"negative CL":              "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"unknown coding":           "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"TE in HTTP/1.0":           "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"bare CR":                  "HTTP/1.1 200 OK\r\nX-Leak: a\rContent-Length: 0\r\n\r\n",
		"NUL in value":             "HTTP/1.1 200 OK\r\nX-Leak: a\x00b\r\n\r\n",
		"bad name":                 "HTTP/1.1 200 OK\r\nX(Leak): a\r\n\r\n",
		"head too large":           "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Leak: "+strings.Repeat("a", 1000)+"\r\n", 70) + "\r\n",
		"cut short":                "HTTP/1.1 200 OK\r\nX-Leak: a\r\n",
		"nothing":                  "",
		"101 unasked":              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"too many interim answers": strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 7) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			srv := newRawServer(t, func(c net.Conn) {
				readHead(bufio.NewReader(c))
				io.WriteString(c, resp)
			})
			u := newUpstream(t, srv.url())
			g := newGateway(t, u, nil)
			r, body := g.get(t, "/")
			assertProblem(t, r, body, http.StatusBadGateway, srv.ln.Addr().String())
			if o := g.outcome(t); o.err == nil {
				t.Error("Forward returned no error")
			}
		})
	}
}

// TestForwardAbortsTruncatedBody checks that a body the upstream breaks off
// never reaches the client as a complete one.
func TestForwardAbortsTruncatedBody(t *testing.T) {
	for name, resp := range map[string]string{
		"content-length": "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
		"chunked":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nonly ten b\r\n",
		"bad chunk":      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nonly ten b\r\nzz\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			srv := newRawServer(t, func(c net.Conn) {
				readHead(bufio.NewReader(c))
				io.WriteString(c, resp)
			})
			u := newUpstream(t, srv.url())
			g := newGateway(t, u, nil)
			resp, err := g.Client().Get(g.URL + "/")
			if err != nil {
				return // aborted before the head left the gateway's buffer
			}
			defer resp.Body.Close()
			if _, err := io.ReadAll(resp.Body); err == nil {
				t.Error("the client read a complete body")
			}
		})
	}
}

func TestForwardReusesConnections(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn) { serveRequests(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") })
	u := newUpstream(t, srv.url())
	g := newGateway(t, u, nil)
	for range 50 {
		if resp, body := g.get(t, "/"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	}
	if got := srv.accepted.Load(); got != 1 {
		t.Errorf("50 sequential requests used %d upstream connections, want 1", got)
	}
}

// TestForwardSurvivesIdleClose: an upstream that closes each connection
// after one response (without saying so) must never cause a client-visible
// error, whatever the method and body.
func TestForwardSurvivesIdleClose(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := newRawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		head := readHead(br)
		for _, l := range head {
			if n, ok := strings.CutPrefix(l, "Content-Length: "); ok {
				k, _ := strconv.Atoi(n)
				io.CopyN(io.Discard, br, int64(k))
			}
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close()
		closed <- struct{}{}
	})
	u := newUpstream(t, srv.url())
	g := newGateway(t, u, nil)
	for i := range 20 {
		req, _ := http.NewRequest(http.MethodGet, g.URL+"/", nil)
		if i%2 == 1 {
			req, _ = http.NewRequest(http.MethodPost, g.URL+"/", strings.NewReader("body"))
		}
		if resp, body := g.do(t, req); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d (%s): %d %q", i, req.Method, resp.StatusCode, body)
		}
		// The upstream has closed the connection by the time the next
		// request comes, as an idle timeout would have.
		<-closed
	}
}

// TestForwardRetriesOnce: an upstream that drops the second request on each
// connection unanswered. An idempotent request without a body is retried on
// a new connection; a POST is not.
func TestForwardRetriesOnce(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		readHead(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		readHead(br) // and hang up without an answer
	})
	u := newUpstream(t, srv.url())
	g := newGateway(t, u, nil)
	for i := range 5 {
		if resp, body := g.get(t, "/"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("GET %d: %d %q", i, resp.StatusCode, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/", strings.NewReader("x"))
	resp, body := g.do(t, req)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("POST on a dropped connection: %d %q, want 502", resp.StatusCode, body)
	}
}

func TestForwardLargeBodies(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16)
	sum := sha256.Sum256(big)
	want := hex.EncodeToString(sum[:])
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			if r.URL.Query().Get("chunked") == "" {
				w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			}
			w.Write(big)
			return
		}
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		io.WriteString(w, strconv.FormatInt(n, 10)+" "+hex.EncodeToString(h.Sum(nil)))
	}))
	defer up.Close()
	u := newUpstream(t, mustURL(t, up.URL))
	g := newGateway(t, u, nil)

	t.Run("upload content-length", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/", bytes.NewReader(big))
		if _, body := g.do(t, req); body != strconv.Itoa(len(big))+" "+want {
			t.Errorf("upstream got %s", body)
		}
		g.outcome(t)
	})
	t.Run("upload chunked", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/", io.MultiReader(bytes.NewReader(big)))
		if _, body := g.do(t, req); body != strconv.Itoa(len(big))+" "+want {
			t.Errorf("upstream got %s", body)
		}
		g.outcome(t)
	})
	for _, q := range []string{"", "?chunked=1"} {
		t.Run("download"+q, func(t *testing.T) {
			resp, body := g.get(t, "/"+q)
			sum := sha256.Sum256([]byte(body))
			if hex.EncodeToString(sum[:]) != want {
				t.Errorf("client got %d bytes, different from the upstream's", len(body))
			}
			if o := g.outcome(t); q == "" && (o.res.BytesWritten != int64(len(big)) || resp.ContentLength != int64(len(big))) {
				t.Errorf("BytesWritten %d, Content-Length %d", o.res.BytesWritten, resp.ContentLength)
			}
		})
	}
}

func TestForwardRefusesBadRequestParts(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn) { serveRequests(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") })
	u := newUpstream(t, srv.url())
	for name, f := range map[string]*Forwarding{
		"CRLF in extra header":  {Path: "/", ExtraHeaders: [][2]string{{"X-Consumer-Name", "a\r\nX-Admin: 1"}}},
		"bad extra header name": {Path: "/", ExtraHeaders: [][2]string{{"X Consumer", "a"}}},
		"framing extra header":  {Path: "/", ExtraHeaders: [][2]string{{"content-length", "5"}}},
		"reserved extra header": {Path: "/", ExtraHeaders: [][2]string{{"X-Forwarded-For", "6.6.6.6"}}},
		"CRLF in request id":    {Path: "/", RequestID: "a\r\nb"},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://gw/", nil)
			_, err := u.Forward(httptest.NewRecorder(), r, f)
			if e := httperr.As(err); err == nil || e.Status != http.StatusInternalServerError {
				t.Errorf("err = %v", err)
			}
		})
	}
	t.Run("body too large", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "http://gw/", strings.NewReader("0123456789"))
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 4)
		_, err := u.Forward(httptest.NewRecorder(), r, &Forwarding{Path: "/"})
		if e := httperr.As(err); err == nil || e.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("err = %v", err)
		}
	})
}

func TestForwardHTTPS(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	up.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	var conns atomic.Int64
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.StartTLS()
	defer up.Close()
	target := mustURL(t, up.URL)
	r := httptest.NewRequest(http.MethodGet, "http://gw/", nil)

	// The test certificate is not in the system roots.
	u := newUpstream(t, target)
	if _, err := u.Forward(httptest.NewRecorder(), r, &Forwarding{Path: "/"}); httperr.As(err).Status != http.StatusBadGateway {
		t.Errorf("untrusted certificate: err = %v", err)
	}

	pool := x509.NewCertPool()
	pool.AddCert(up.Certificate())
	u, err := NewUpstream(UpstreamConfig{Name: "svc", Targets: []*url.URL{target}, TLS: &tls.Config{RootCAs: pool, ServerName: "example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	conns.Store(0)
	for range 3 {
		w := httptest.NewRecorder()
		if _, err := u.Forward(w, r, &Forwarding{Path: "/"}); err != nil || w.Body.String() != "HTTP/1.1" {
			t.Fatalf("err = %v, body %q", err, w.Body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 requests used %d TLS connections, want 1", n)
	}
}

func TestNewUpstreamChecksTargets(t *testing.T) {
	for _, raw := range []string{"ftp://h/", "http://", "http://u:p@h/", "http://h/?q=1", "http://h/#f", "h:80"} {
		if _, err := NewUpstream(UpstreamConfig{Name: "svc", Targets: []*url.URL{mustURL(t, raw)}}); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
	if _, err := NewUpstream(UpstreamConfig{Name: "svc"}); err == nil {
		t.Error("no targets accepted")
	}
	u, err := NewUpstream(UpstreamConfig{Name: "svc", Targets: []*url.URL{mustURL(t, "https://[::1]/api/"), mustURL(t, "http://example.com")}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := u.targets[0], u.targets[1]
	if a.addr != "[::1]:443" || a.host != "[::1]" || a.pathPrefix != "/api" || a.tls.ServerName != "::1" ||
		b.addr != "example.com:80" || b.host != "example.com" || b.pathPrefix != "" || b.tls != nil {
		t.Errorf("targets: %+v %+v", a, b)
	}
}

func TestForwardRoundRobin(t *testing.T) {
	var hits [2]chan seen
	var targets []*url.URL
	for i := range hits {
		var up *httptest.Server
		up, hits[i] = newCapture(t)
		targets = append(targets, mustURL(t, up.URL))
	}
	u := newUpstream(t, targets...)
	g := newGateway(t, u, nil)
	for range 4 {
		g.get(t, "/")
	}
	for i := range hits {
		if n := len(hits[i]); n != 2 {
			t.Errorf("target %d got %d requests, want 2", i, n)
		}
	}
}
