package proxy

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/internal/httpsyntax"
)

// invalidRequestError reports a part of the request that cannot be written
// as HTTP/1.1 (a bad method, header name or value, or extra header). It is
// the gateway's fault, not the upstream's; only the name of the part is kept,
// never its value.
type invalidRequestError string

func (e invalidRequestError) Error() string {
	return "proxy: invalid " + string(e) + " in request to upstream"
}

// bodyReadError wraps a failure to read the client's request body: the
// client's fault (or departure), not the upstream's.
type bodyReadError struct{ err error }

func (e bodyReadError) Error() string { return "proxy: reading request body: " + e.err.Error() }
func (e bodyReadError) Unwrap() error { return e.err }

// bufPool holds the buffers bodies are copied through.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// writeRequest writes r to the upstream as an HTTP/1.1 request, head and
// body, scrubbing and adding fields as f says, and flushes it. upgrade asks
// the upstream to switch to the WebSocket protocol.
func (c *conn) writeRequest(r *http.Request, f *Forwarding, upgrade bool) error {
	bw := c.bw
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	if !httpsyntax.ValidToken(method) {
		return invalidRequestError("method")
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	path := f.Path
	if prefix := c.t.pathPrefix; prefix != "" {
		writeEscaped(bw, prefix, false)
	}
	if path == "" || path[0] != '/' {
		bw.WriteByte('/')
	}
	writeEscaped(bw, path, false)
	q := r.URL.RawQuery
	if f.StripQuery != "" {
		q = withoutParam(q, f.StripQuery)
	}
	if q != "" {
		bw.WriteByte('?')
		writeEscaped(bw, q, true)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(c.t.host)
	bw.WriteString("\r\n")

	if err := c.writeClientFields(r.Header, f.StripHeader, f.TraceParent != ""); err != nil {
		return err
	}
	if err := c.writeGatewayFields(f); err != nil {
		return err
	}
	if upgrade {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: websocket\r\n")
	}

	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	switch {
	case hasBody && r.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(c.scratch[:0], r.ContentLength, 10))
		bw.WriteString("\r\n\r\n")
		if err := c.copyBody(r.Body, r.ContentLength); err != nil {
			return err
		}
	case hasBody:
		bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		if err := c.copyChunked(r.Body); err != nil {
			return err
		}
	default:
		switch method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			bw.WriteString("Content-Length: 0\r\n")
		}
		bw.WriteString("\r\n")
	}
	return bw.Flush()
}

// writeClientFields copies the client's fields except the hop-by-hop ones,
// those the client's Connection field names, and those only the gateway may
// set. Several Cookie fields (as HTTP/2 sends them) become one, as RFC 9113
// §8.2.3 asks of a hop to HTTP/1.1. ownTrace drops the client's trace
// context fields, for the gateway's own.
func (c *conn) writeClientFields(h http.Header, strip string, ownTrace bool) error {
	bw := c.bw
	connection := h["Connection"]
	for name, values := range h {
		if equalFoldAny(name, hopByHop) || equalFoldAny(name, gatewayOwned) ||
			hasPrefixFold(name, consumerPrefix) || httpsyntax.HasToken(connection, name) ||
			strip != "" && strings.EqualFold(name, strip) ||
			ownTrace && (strings.EqualFold(name, "Traceparent") || strings.EqualFold(name, "Tracestate")) {
			continue
		}
		if !httpsyntax.ValidToken(name) {
			return invalidRequestError("header name")
		}
		if len(values) > 1 && strings.EqualFold(name, "Cookie") {
			bw.WriteString(name)
			bw.WriteString(": ")
			for i, v := range values {
				if !httpsyntax.ValidFieldValue(v) {
					return invalidRequestError("header value")
				}
				if i > 0 {
					bw.WriteString("; ")
				}
				bw.WriteString(v)
			}
			bw.WriteString("\r\n")
			continue
		}
		for _, v := range values {
			if !httpsyntax.ValidFieldValue(v) {
				return invalidRequestError("header value")
			}
			writeField(bw, name, v)
		}
	}
	return nil
}

// withoutParam removes every name=value (or bare name) pair named name from
// a raw query, comparing names after unescaping ('%' escapes, and '+' for a
// space); it allocates only when there is something to remove.
func withoutParam(raw, name string) string {
	if !strings.Contains(raw, name) && !strings.ContainsAny(raw, "%+") {
		return raw
	}
	var b strings.Builder
	removed := false
	for part := range strings.SplitSeq(raw, "&") {
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil && k == name {
			removed = true
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	if !removed {
		return raw
	}
	return b.String()
}

// writeGatewayFields writes the fields the gateway sets: X-Forwarded-*,
// X-Request-Id, the trace context and the extra headers.
func (c *conn) writeGatewayFields(f *Forwarding) error {
	bw := c.bw
	if !httpsyntax.ValidFieldValue(f.ClientIP) || !httpsyntax.ValidFieldValue(f.PriorForwardedFor) || !httpsyntax.ValidFieldValue(f.Proto) ||
		!httpsyntax.ValidFieldValue(f.Host) || !httpsyntax.ValidFieldValue(f.RequestID) || !httpsyntax.ValidFieldValue(f.TraceParent) || !httpsyntax.ValidFieldValue(f.TraceState) {
		return invalidRequestError("forwarding value")
	}
	if f.PriorForwardedFor != "" || f.ClientIP != "" {
		bw.WriteString("X-Forwarded-For: ")
		bw.WriteString(f.PriorForwardedFor)
		if f.PriorForwardedFor != "" && f.ClientIP != "" {
			bw.WriteString(", ")
		}
		bw.WriteString(f.ClientIP)
		bw.WriteString("\r\n")
	}
	if f.Proto != "" {
		writeField(bw, "X-Forwarded-Proto", f.Proto)
	}
	if f.Host != "" {
		writeField(bw, "X-Forwarded-Host", f.Host)
	}
	if f.RequestID != "" {
		writeField(bw, "X-Request-Id", f.RequestID)
	}
	if f.TraceParent != "" {
		writeField(bw, "Traceparent", f.TraceParent)
		if f.TraceState != "" {
			writeField(bw, "Tracestate", f.TraceState)
		}
	}
	for _, kv := range f.ExtraHeaders {
		if !httpsyntax.ValidToken(kv[0]) || equalFoldAny(kv[0], reservedFields) || !httpsyntax.ValidFieldValue(kv[1]) {
			return invalidRequestError("extra header")
		}
		writeField(bw, kv[0], kv[1])
	}
	return nil
}

// writeField writes one "name: value" line.
func writeField(bw *bufio.Writer, name, value string) {
	bw.WriteString(name)
	bw.WriteString(": ")
	bw.WriteString(value)
	bw.WriteString("\r\n")
}

// copyBody copies exactly n bytes of body to the upstream.
func (c *conn) copyBody(body io.Reader, n int64) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for n > 0 {
		m, err := body.Read(buf[:min(int64(len(buf)), n)])
		if m > 0 {
			n -= int64(m)
			if _, werr := c.bw.Write(buf[:m]); werr != nil {
				return werr
			}
		}
		if err == io.EOF && n > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return bodyReadError{err}
		}
	}
	return nil
}

// copyChunked copies body to the upstream with the chunked transfer coding,
// one chunk per read, so a streamed body is forwarded as it arrives rather
// than buffered whole.
func (c *conn) copyChunked(body io.Reader) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	bw := c.bw
	for {
		n, err := body.Read(buf)
		if n > 0 {
			bw.Write(strconv.AppendUint(c.scratch[:0], uint64(n), 16))
			bw.WriteString("\r\n")
			bw.Write(buf[:n])
			if _, werr := bw.WriteString("\r\n"); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			_, werr := bw.WriteString("0\r\n\r\n")
			return werr
		}
		if err != nil {
			return bodyReadError{err}
		}
	}
}

// writeEscaped writes a path (or, with inQuery, a query) into the request
// line, percent-encoding the bytes a request-target cannot hold: controls,
// space, '#', non-ASCII and, in a path, '?'. Escapes already present are
// kept, so a path in its wire form passes through unchanged.
func writeEscaped(bw *bufio.Writer, s string, inQuery bool) {
	i := 0
	for i < len(s) && !mustEscape(s[i], inQuery) {
		i++
	}
	if i == len(s) {
		bw.WriteString(s)
		return
	}
	const hex = "0123456789ABCDEF"
	bw.WriteString(s[:i])
	for ; i < len(s); i++ {
		if b := s[i]; mustEscape(b, inQuery) {
			bw.WriteByte('%')
			bw.WriteByte(hex[b>>4])
			bw.WriteByte(hex[b&0xf])
		} else {
			bw.WriteByte(b)
		}
	}
}

// mustEscape reports whether b cannot appear as itself in a request-target.
func mustEscape(b byte, inQuery bool) bool {
	return b <= ' ' || b >= 0x7f || b == '#' || (b == '?' && !inQuery)
}
