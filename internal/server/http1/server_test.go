package http1

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// echoPath answers with the request's path.
var echoPath = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, r.URL.Path)
})

// TestServerKeepAlive pins that one connection carries several requests
// in turn.
func TestServerKeepAlive(t *testing.T) {
	remotes := make(chan string, 5)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remotes <- r.RemoteAddr
		_, _ = io.WriteString(w, r.URL.Path)
	})})
	c := ts.dial()
	for i := range 5 {
		path := fmt.Sprintf("/%d", i)
		if _, body := c.get(path, http.StatusOK); body != path {
			t.Errorf("answer %q to %s", body, path)
		}
		if got := recv(t, remotes); got != c.conn.LocalAddr().String() {
			t.Errorf("RemoteAddr %q, want %q", got, c.conn.LocalAddr())
		}
	}
}

// TestServerPipelining pins that requests sent at once are answered in
// order, bodies and all.
func TestServerPipelining(t *testing.T) {
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.URL.Path+":"+string(b))
	})})
	c := ts.dial()
	var reqs strings.Builder
	var want []string
	for i := range 10 {
		path := fmt.Sprintf("/%d", i)
		if i%2 == 0 {
			fmt.Fprintf(&reqs, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path)
			want = append(want, path+":")
		} else {
			body := strings.Repeat("b", i*100)
			fmt.Fprintf(&reqs, "POST %s HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
			want = append(want, path+":"+body)
		}
	}
	c.write(reqs.String())
	for _, w := range want {
		if _, body := c.response(http.MethodGet); body != w {
			t.Errorf("answer %q, want %q", shorten([]byte(body)), shorten([]byte(w)))
		}
	}
}

// TestServerLeadingEmptyLines pins that empty lines before a request line
// are skipped (RFC 9112 §2.2), CRLF or LF, first on a connection or
// between requests.
func TestServerLeadingEmptyLines(t *testing.T) {
	ts := startServer(t, &Server{Handler: echoPath})
	c := ts.dial()
	c.write("\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n\n\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n\r\n")
	for _, want := range []string{"/a", "/b"} {
		if _, body := c.response(http.MethodGet); body != want {
			t.Errorf("answer %q, want %q", body, want)
		}
	}
	c.write("\r\n")
	time.Sleep(20 * time.Millisecond) // the CRLF alone, then the request
	c.write("GET /c HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := c.response(http.MethodGet); body != "/c" {
		t.Errorf("answer %q, want /c", body)
	}
}

// TestServerHeadInPieces pins that a head arriving in many small reads is
// read whole.
func TestServerHeadInPieces(t *testing.T) {
	ts := startServer(t, &Server{Handler: echoPath, ReadHeaderTimeout: 5 * time.Second})
	c := ts.dial()
	req := "GET /pieces HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n"
	for i := 0; i < len(req); i += 3 {
		c.write(req[i:min(i+3, len(req))])
		time.Sleep(time.Millisecond)
	}
	if _, body := c.response(http.MethodGet); body != "/pieces" {
		t.Errorf("answer %q", body)
	}
}

// TestServerRequest pins the *http.Request the handler gets: method,
// URL, RequestURI, protocol, Host (from the target in absolute form),
// fields, remote address and body length.
func TestServerRequest(t *testing.T) {
	type seen struct {
		Method, Path, RawQuery, URLHost, RequestURI, Proto, Host string
		Minor                                                    int
		ContentLength                                            int64
		Close                                                    bool
		XA                                                       []string
	}
	got := make(chan seen, 1)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.URL.Host, r.RequestURI, r.Proto, r.Host,
			r.ProtoMinor, r.ContentLength, r.Close, r.Header["X-A"]}
		_, _ = io.Copy(io.Discard, r.Body)
	})})
	tests := []struct {
		req  string
		want seen
	}{
		{"GET /p/a?q=1&r HTTP/1.1\r\nHost: example.com:8080\r\nx-a: 1\r\nX-A: 2\r\n\r\n",
			seen{"GET", "/p/a", "q=1&r", "", "/p/a?q=1&r", "HTTP/1.1", "example.com:8080", 1, 0, false, []string{"1", "2"}}},
		{"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
			seen{"POST", "/up", "", "", "/up", "HTTP/1.1", "h", 1, 3, false, nil}},
		{"GET http://other.example/x?y HTTP/1.1\r\nHost: h\r\n\r\n",
			seen{"GET", "/x", "y", "other.example", "http://other.example/x?y", "HTTP/1.1", "other.example", 1, 0, false, nil}},
		{"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			seen{"CONNECT", "", "", "example.com:443", "example.com:443", "HTTP/1.1", "example.com:443", 1, 0, false, nil}},
		{"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
			seen{"OPTIONS", "*", "", "", "*", "HTTP/1.1", "h", 1, 0, false, nil}},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			seen{"GET", "/", "", "", "/", "HTTP/1.0", "", 0, 0, false, nil}},
		{"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			seen{"GET", "/", "", "", "/", "HTTP/1.1", "h", 1, 0, true, nil}},
	}
	for _, tt := range tests {
		c := ts.dial()
		c.write(tt.req)
		s := recv(t, got)
		if fmt.Sprint(s) != fmt.Sprint(tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.req, s, tt.want)
		}
		c.response(http.MethodGet)
	}
}

// TestServerMalformedHead pins the answer to a head the server cannot
// read: ErrorAnswer's fields and body with the status, no caching,
// Connection: close, then the connection closes; without ErrorAnswer the
// detail as plain text.
func TestServerMalformedHead(t *testing.T) {
	errorAnswer := func(status int, detail string) (http.Header, []byte) {
		return http.Header{"Content-Type": {"application/problem+json"}, "X-Request-Id": {"r1"}},
			fmt.Appendf(nil, `{"status":%d,"detail":%q}`, status, detail)
	}
	tests := []struct {
		name   string
		head   string
		status int
		detail string
	}{
		{"bad request line", "GARBAGE\r\n\r\n", 400, "malformed request line"},
		{"bad method", "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid method"},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 400, "unsupported protocol version"},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 400, "unsupported protocol version"},
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "invalid header field name"},
		{"NUL in a value", "GET / HTTP/1.1\r\nHost: h\r\nX: \x00\r\n\r\n", 400, "invalid header field value"},
		{"target not a URI", "GET foo HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid request target"},
		{"head over MaxHeadBytes", "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 600) + "\r\n\r\n", 431, "request header too large"},
		{"unfinished head over MaxHeadBytes", "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 600), 431, "request header too large"},
	}
	for _, tt := range tests {
		for _, custom := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/ErrorAnswer=%v", tt.name, custom), func(t *testing.T) {
				called := make(chan struct{}, 1)
				srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called <- struct{}{} }), MaxHeadBytes: 512}
				if custom {
					srv.ErrorAnswer = errorAnswer
				}
				ts := startServer(t, srv)
				c := ts.dial()
				c.write(tt.head)
				resp, body := c.response(http.MethodGet)
				wantType, wantBody := "text/plain; charset=utf-8", tt.detail+"\n"
				wantID := ""
				if custom {
					wf, wb := errorAnswer(tt.status, tt.detail)
					wantType, wantBody, wantID = wf.Get("Content-Type"), string(wb), wf.Get("X-Request-Id")
				}
				if got := resp.Header.Get("X-Request-Id"); got != wantID {
					t.Errorf("X-Request-Id %q, want %q", got, wantID)
				}
				if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != wantType || body != wantBody {
					t.Errorf("answer %d %q %q; want %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status, wantType, wantBody)
				}
				if !resp.Close || resp.Header.Get("Cache-Control") != "no-store" || resp.ContentLength != int64(len(wantBody)) {
					t.Errorf("close %v, Cache-Control %q, Content-Length %d", resp.Close, resp.Header.Get("Cache-Control"), resp.ContentLength)
				}
				c.expectClosed()
				select {
				case <-called:
					t.Error("the handler ran")
				default:
				}
			})
		}
	}
}

// TestServerHeadTooLargeSlowPath pins 431 for a head over MaxHeadBytes
// when MaxHeadBytes is larger than the connection's 4 KiB buffer (the
// head is read line by line), for one long line and for many lines.
func TestServerHeadTooLargeSlowPath(t *testing.T) {
	for _, tt := range []struct{ name, fields string }{
		{"one long field", "X-Big: " + strings.Repeat("b", 12000) + "\r\n"},
		{"many fields", strings.Repeat("X-Field: "+strings.Repeat("f", 90)+"\r\n", 120)},
		{"long target", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, &Server{Handler: okHandler, MaxHeadBytes: 10000})
			c := ts.dial()
			target := "/"
			if tt.fields == "" {
				target = "/" + strings.Repeat("t", 12000)
			}
			written := c.writeAsync("GET " + target + " HTTP/1.1\r\nHost: h\r\n" + tt.fields + "\r\n")
			resp, _ := c.response(http.MethodGet)
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !resp.Close {
				t.Errorf("answer %d close %v, want 431 and close", resp.StatusCode, resp.Close)
			}
			c.expectClosed()
			<-written
		})
	}
}

// TestServerLongHeads pins that heads longer than the connection's 4 KiB
// buffer but within MaxHeadBytes are read whole (readLongHead): a long
// field, many fields, a long target, LF-only endings, a head sent in
// pieces; the connection then carries the next request.
func TestServerLongHeads(t *testing.T) {
	type seen struct {
		path, cookie string
		fields       int
	}
	got := make(chan seen, 2)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.URL.Path, r.Header.Get("Cookie"), len(r.Header)}
		_, _ = io.WriteString(w, "ok")
	})})
	cookie := strings.Repeat("c", 6000)
	longPath := "/" + strings.Repeat("p", 6000)
	manyFields := ""
	for i := range 100 {
		manyFields += fmt.Sprintf("X-Field-%d: %s\r\n", i, strings.Repeat("v", 60))
	}
	tests := []struct {
		name, req string
		want      seen
		pieces    int // write the request in pieces of this size; 0: at once
	}{
		{"long field", "GET / HTTP/1.1\r\nHost: h\r\nCookie: " + cookie + "\r\n\r\n", seen{"/", cookie, 1}, 0},
		{"very long field", "GET / HTTP/1.1\r\nHost: h\r\nCookie: " + cookie + cookie + cookie + "\r\n\r\n", seen{"/", cookie + cookie + cookie, 1}, 0},
		{"long field last", "GET / HTTP/1.1\r\nHost: h\r\nX: y\r\nCookie: " + cookie + "\r\n\r\n", seen{"/", cookie, 2}, 0},
		{"many fields", "GET / HTTP/1.1\r\nHost: h\r\n" + manyFields + "\r\n", seen{"/", "", 100}, 0},
		{"long target", "GET " + longPath + " HTTP/1.1\r\nHost: h\r\n\r\n", seen{longPath, "", 0}, 0},
		{"long target, no fields", "GET " + longPath + " HTTP/1.0\r\n\r\n", seen{longPath, "", 0}, 0},
		{"LF-only endings", "GET / HTTP/1.1\nHost: h\nCookie: " + cookie + "\n\n", seen{"/", cookie, 1}, 0},
		{"CRLF lines, LF empty line", "GET / HTTP/1.1\r\nHost: h\r\nCookie: " + cookie + "\r\n\n", seen{"/", cookie, 1}, 0},
		{"in pieces", "GET / HTTP/1.1\r\nHost: h\r\nCookie: " + cookie + "\r\n\r\n", seen{"/", cookie, 1}, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.dial()
			if tt.pieces == 0 {
				c.write(tt.req)
			} else {
				for i := 0; i < len(tt.req); i += tt.pieces {
					c.write(tt.req[i:min(i+tt.pieces, len(tt.req))])
					time.Sleep(5 * time.Millisecond)
				}
			}
			s := recv(t, got)
			if s.path != tt.want.path || s.cookie != tt.want.cookie || s.fields != tt.want.fields {
				t.Errorf("handler saw path of %d bytes, cookie of %d, %d fields; want %d, %d, %d",
					len(s.path), len(s.cookie), s.fields, len(tt.want.path), len(tt.want.cookie), tt.want.fields)
			}
			if _, body := c.response(http.MethodGet); body != "ok" {
				t.Errorf("answer %q", body)
			}
			if strings.Contains(tt.req, "HTTP/1.0") {
				return
			}
			c.get("/next", http.StatusOK)
			recv(t, got)
		})
	}
}

// TestServerRefusedRequest pins a head the server read but will not take
// (see Refusal): the request still reaches the handler, with
// RefusalOf(r) set, http.NoBody as its body and no length, and the
// connection closes after the answer, whatever followed the head.
func TestServerRefusedRequest(t *testing.T) {
	tests := []struct {
		name, req string
		status    int
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nxxxx", 501},
		{"two lengths", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400},
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"unknown expectation", "GET / HTTP/1.1\r\nHost: h\r\nExpect: teapot\r\n\r\n", 417},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type seen struct {
				refusal *Refusal
				noBody  bool
				length  int64
				path    string
			}
			got := make(chan seen, 2)
			ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ref := RefusalOf(r)
				got <- seen{ref, r.Body == http.NoBody, r.ContentLength, r.URL.Path}
				if ref != nil {
					http.Error(w, ref.Detail, ref.Status)
				}
			})})
			c := ts.dial()
			c.write(tt.req)
			s := recv(t, got)
			if s.refusal == nil || s.refusal.Status != tt.status || s.refusal.Detail == "" {
				t.Fatalf("RefusalOf: %+v, want status %d", s.refusal, tt.status)
			}
			if !s.noBody || s.length != 0 {
				t.Errorf("body NoBody %v, length %d; want http.NoBody, 0", s.noBody, s.length)
			}
			resp, _ := c.response(http.MethodPost)
			if resp.StatusCode != tt.status || !resp.Close {
				t.Errorf("answer %d close %v, want %d and close", resp.StatusCode, resp.Close, tt.status)
			}
			c.expectClosed()
			select {
			case s := <-got:
				t.Errorf("another request was served after the refusal: %+v", s)
			default:
			}
		})
	}
}

// TestRefusalOfOtherRequests pins that RefusalOf is nil for a request
// the server takes, and for requests other servers made.
func TestRefusalOfOtherRequests(t *testing.T) {
	refusals := make(chan *Refusal, 1)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refusals <- RefusalOf(r)
	})})
	ts.dial().get("/", http.StatusOK)
	if r := recv(t, refusals); r != nil {
		t.Errorf("RefusalOf a good request: %+v", r)
	}
	if r := RefusalOf(httptest.NewRequest(http.MethodGet, "/", nil)); r != nil {
		t.Errorf("RefusalOf another server's request: %+v", r)
	}
}

// TestServerConnContext pins that ConnContext's values are seen by every
// request of its connection.
func TestServerConnContext(t *testing.T) {
	type key struct{}
	values := make(chan any, 2)
	ts := startServer(t, &Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values <- r.Context().Value(key{})
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, key{}, c.RemoteAddr().String())
		},
	})
	c := ts.dial()
	for range 2 {
		c.get("/", http.StatusOK)
		if v := recv(t, values); v != c.conn.LocalAddr().String() {
			t.Errorf("value %v, want %v", v, c.conn.LocalAddr())
		}
	}
}
