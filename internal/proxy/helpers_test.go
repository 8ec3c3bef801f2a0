package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
)

// rawServer is an upstream on loopback that speaks whatever its handler
// writes, one goroutine per connection, and counts the connections it
// accepted.
type rawServer struct {
	ln       net.Listener
	accepted atomic.Int64
}

func newRawServer(t testing.TB, handle func(net.Conn)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
	})
	return s
}

func (s *rawServer) url() *url.URL {
	return &url.URL{Scheme: "http", Host: s.ln.Addr().String()}
}

// readHead reads one request head from br and returns its lines (request
// line first), or nil at the end of the connection.
func readHead(br *bufio.Reader) []string {
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return lines
		}
		lines = append(lines, line)
	}
}

// serveRequests answers every request on c with resp, until the client
// closes; Content-Length request bodies are skipped. It allocates nothing
// per request, so that benchmarks count only the proxy's allocations.
func serveRequests(c net.Conn, resp string) {
	br := bufio.NewReader(c)
	out := []byte(resp)
	for {
		var length int64
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			if n, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				for _, d := range bytes.TrimSpace(n) {
					length = length*10 + int64(d-'0')
				}
			}
		}
		if length > 0 {
			io.CopyN(io.Discard, br, length)
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// newUpstream builds an Upstream for the given targets, closed at the end of
// the test.
func newUpstream(t testing.TB, targets ...*url.URL) *Upstream {
	t.Helper()
	u, err := NewUpstream(UpstreamConfig{Name: "svc", Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

// mustURL parses s.
func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// gateway is a net/http server that forwards every request through u, the
// way the gateway's handler does, and records each Forward outcome.
type gateway struct {
	*httptest.Server
	results chan outcome
}

type outcome struct {
	res Result
	err error
}

// newGateway serves u; fw (when not nil) adjusts the Forwarding of each
// request.
func newGateway(t testing.TB, u *Upstream, fw func(r *http.Request, f *Forwarding)) *gateway {
	t.Helper()
	g := &gateway{results: make(chan outcome, 100)}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := &Forwarding{
			Path:      r.URL.EscapedPath(),
			RequestID: "req-1",
			ClientIP:  "192.0.2.1",
			Proto:     "http",
			Host:      r.Host,
			Timeout:   5 * time.Second,
		}
		if fw != nil {
			fw(r, f)
		}
		res, err := u.Forward(w, r, f)
		select {
		case g.results <- outcome{res, err}:
		default:
		}
		if err != nil {
			httperr.Write(w, httperr.As(err), f.RequestID)
		}
	}))
	t.Cleanup(g.Close)
	return g
}

// outcome returns the next recorded Forward outcome.
func (g *gateway) outcome(t testing.TB) outcome {
	t.Helper()
	select {
	case o := <-g.results:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no Forward outcome")
		return outcome{}
	}
}

// do sends req through the gateway and returns the response with its body
// read.
func (g *gateway) do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := g.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, string(b)
}

// get sends a GET for path through the gateway.
func (g *gateway) get(t testing.TB, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g.do(t, req)
}
