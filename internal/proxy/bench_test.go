package proxy

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"testing"
	"time"
)

// benchResponse is what nginx answers for a small static file.
const benchResponse = "HTTP/1.1 200 OK\r\n" +
	"Server: nginx/1.22.1\r\n" +
	"Date: Mon, 02 Mar 2026 10:00:00 GMT\r\n" +
	"Content-Type: text/plain\r\n" +
	"Content-Length: 3\r\n" +
	"Last-Modified: Mon, 02 Mar 2026 09:00:00 GMT\r\n" +
	"Connection: keep-alive\r\n" +
	"ETag: \"65e2ea10-3\"\r\n" +
	"Accept-Ranges: bytes\r\n" +
	"\r\n" +
	"ok\n"

// discardWriter is a ResponseWriter that keeps nothing but the status, so
// that a benchmark measures the proxy rather than a server.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(s int)   { d.status = s }
func (d *discardWriter) Write(p []byte) (int, error) {
	d.n += len(p)
	return len(p), nil
}

// benchRequest is a typical browser-ish GET as the gateway receives it.
func benchRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://gw.example/orders/42?expand=items", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	r.Header.Set("Accept-Language", "en-US,en;q=0.5")
	r.Header.Set("Authorization", "Bearer abc.def.ghi")
	return r
}

// BenchmarkForward measures one GET through Forward to a lean upstream over
// loopback, on a warm pooled connection.
func BenchmarkForward(b *testing.B) {
	srv := newRawServer(b, func(c net.Conn) { serveRequests(c, benchResponse) })
	u := newUpstream(b, srv.url())
	r := benchRequest()
	f := &Forwarding{
		Path: r.URL.EscapedPath(), RequestID: "0f8fad5b-d9cb-469f-a165-70867728950e",
		ClientIP: "192.0.2.1", Proto: "https", Host: "gw.example", Timeout: 30 * time.Second,
		ExtraHeaders: [][2]string{{"X-Consumer-Name", "alice"}},
	}
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		if _, err := u.Forward(w, r, f); err != nil || w.status != http.StatusOK {
			b.Fatal(err, w.status)
		}
	}
}

// BenchmarkReverseProxy is BenchmarkForward's request through the standard
// library's httputil.ReverseProxy and http.Transport, for comparison.
func BenchmarkReverseProxy(b *testing.B) {
	srv := newRawServer(b, func(c net.Conn) { serveRequests(c, benchResponse) })
	target := srv.url()
	tr := &http.Transport{MaxIdleConnsPerHost: DefaultMaxIdlePerTarget, IdleConnTimeout: DefaultIdleTimeout}
	b.Cleanup(tr.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Request-Id", "0f8fad5b-d9cb-469f-a165-70867728950e")
			pr.Out.Header.Set("X-Consumer-Name", "alice")
		},
		Transport:    tr,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusBadGateway) },
	}
	r := benchRequest()
	r.RemoteAddr = "192.0.2.1:1234"
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		rp.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatal(w.status)
		}
	}
}
