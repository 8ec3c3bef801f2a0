package proxy

import (
	"bufio"
	"bytes"
	"cmp"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/httpsyntax"
	"github.com/portcullis/portcullis/internal/reqpath"
)

// FuzzWriteRequest checks the request head the transport writes, whatever
// the client sent: it is exactly one well-formed HTTP/1.1 request (net/http
// reads it, and nothing follows it), with one Host, the gateway's own
// X-Forwarded-For and X-Request-Id, no hop-by-hop field, no field the
// client's Connection named, no client X-Consumer-* or HTTP2-Settings, and
// without the credential header and query parameter the gateway consumed.
// An input it cannot write is refused as invalid, never written in part.
//
// headers holds "name:value" lines (any bytes); the path is normalized
// first, as the edge does before it forwards.
func FuzzWriteRequest(f *testing.F) {
	f.Add("GET", "/orders/1", "a=1&api_key=s", "Accept:*/*\nConnection:X-Hop, keep-alive\nX-Hop:1\nKeep-Alive:5\nX-Api-Key:k", "x-api-key", "api_key", false, "")
	f.Add("POST", "/u", "", "Transfer-Encoding:chunked\nContent-Length:5\nTe:trailers\nTrailer:X", "", "", false, "hello")
	f.Add("GET", "/ws", "", "Connection:Upgrade, HTTP2-Settings\nUpgrade:websocket, h2c\nHTTP2-Settings:AAMA\nSec-WebSocket-Key:k", "", "", true, "")
	f.Add("GET", "/a%20b/%c3%a9/%3F", "%61pi_key=1&api_key", "x-consumer-name:admin\nX-Forwarded-For:6.6.6.6\nhost:evil\nCookie:a=1\nCookie:b=2", "", "api_key", false, "")
	f.Add("GET", "/", "", "X-A:b\r\nX-Injected: 1", "", "", false, "")
	f.Add("G ET", "/", "", "Bad Name:v", "", "", false, "")
	f.Fuzz(func(t *testing.T, method, path, query, headers, strip, stripQuery string, upgrade bool, body string) {
		r := &http.Request{
			Method: method, URL: &url.URL{Path: path, RawQuery: query},
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
		}
		for line := range strings.SplitSeq(headers, "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok {
				r.Header.Add(name, value) // canonical, as net/http's server delivers them
			}
		}
		if body != "" {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
		}
		upgrade = upgrade && wantsWebSocket(r)
		path, err := reqpath.Normalize(path) // as the edge hands it over
		if err != nil {
			return
		}
		fw := &Forwarding{
			Path: path, RequestID: "req-1", ClientIP: "192.0.2.1", Proto: "https", Host: "gw.example",
			StripHeader: strip, StripQuery: stripQuery,
			ExtraHeaders: [][2]string{{"X-Consumer-Name", "alice"}},
		}
		var out bytes.Buffer
		c := &conn{t: &target{host: "up.example"}, bw: bufio.NewWriter(&out)}
		if err := c.writeRequest(r, fw, upgrade); err != nil {
			if _, ok := err.(invalidRequestError); !ok {
				t.Fatalf("error %v", err)
			}
			return
		}
		raw := out.String()
		br := bufio.NewReader(&out)
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("net/http cannot read %q: %v", raw, err)
		}
		got, err := io.ReadAll(req.Body)
		if err != nil || string(got) != body || br.Buffered() != 0 || out.Len() != 0 {
			t.Fatalf("%q: body %q (%v), %d bytes after it", raw, got, err, br.Buffered()+out.Len())
		}
		if want := cmp.Or(method, "GET"); req.Method != want {
			t.Fatalf("%q: method %q", raw, req.Method)
		}
		if req.Host != "up.example" || strings.Count(strings.ToLower(raw), "\r\nhost:") != 1 {
			t.Fatalf("%q: Host %q", raw, req.Host)
		}
		h := req.Header
		if v := h["X-Forwarded-For"]; len(v) != 1 || v[0] != "192.0.2.1" {
			t.Fatalf("%q: X-Forwarded-For %q", raw, v)
		}
		if v := h["X-Request-Id"]; len(v) != 1 || v[0] != "req-1" {
			t.Fatalf("%q: X-Request-Id %q", raw, v)
		}
		if v := h["X-Consumer-Name"]; len(v) != 1 || v[0] != "alice" {
			t.Fatalf("%q: X-Consumer-Name %q", raw, v)
		}
		for name := range h {
			switch {
			case name == "Connection" || name == "Upgrade":
				if !upgrade {
					t.Fatalf("%q: %s forwarded without an upgrade", raw, name)
				}
			case equalFoldAny(name, hopByHop), strings.EqualFold(name, "Http2-Settings"),
				hasPrefixFold(name, consumerPrefix) && name != "X-Consumer-Name",
				strip != "" && strings.EqualFold(name, strip),
				httpsyntax.HasToken(r.Header["Connection"], name) && !equalFoldAny(name, gatewayOwned) && name != "X-Consumer-Name":
				t.Fatalf("%q: %s forwarded", raw, name)
			}
		}
		if upgrade && (h.Get("Upgrade") != "websocket" || h.Get("Connection") != "Upgrade") {
			t.Fatalf("%q: upgrade fields %q %q", raw, h["Upgrade"], h["Connection"])
		}
		if stripQuery != "" {
			for part := range strings.SplitSeq(req.URL.RawQuery, "&") {
				key, _, _ := strings.Cut(part, "=")
				if k, err := url.QueryUnescape(key); err == nil && k == stripQuery {
					t.Fatalf("%q: query parameter %q forwarded", raw, stripQuery)
				}
			}
		}
	})
}

func TestWithoutParam(t *testing.T) {
	for _, c := range []struct{ raw, name, want string }{
		{"a=1&api_key=s&b=2", "api_key", "a=1&b=2"},
		{"api_key&api_key=2", "api_key", ""},
		{"%61pi_key=s&b=2", "api_key", "b=2"},
		{"a+b=1&c=2", "a b", "c=2"},
		{"api_keys=1", "api_key", "api_keys=1"},
		{"x=api_key", "api_key", "x=api_key"},
	} {
		if got := withoutParam(c.raw, c.name); got != c.want {
			t.Errorf("withoutParam(%q, %q) = %q, want %q", c.raw, c.name, got, c.want)
		}
	}
}
