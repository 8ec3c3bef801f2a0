package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"time"
)

// RoundTrip implements http.RoundTripper on the upstream's pooled
// transport, for the calls the gateway makes itself (an AI provider's API)
// rather than forwards: the request goes as the caller built it — its own
// fields, path and query, no forwarding fields — to the upstream's target,
// without net/http's per-connection goroutines.
//
// The request's URL must name the target's scheme and host (a call is
// never sent elsewhere, so a key meant for one host cannot reach another),
// and its context bounds the whole exchange, body included: its deadline
// is the connection's, and cancelling it aborts the connection. The
// response body returns the connection to the pool once read to its end
// (and closed); closed early, the connection is closed. A pooled
// connection that turns out stale before any byte of a response is retried
// once on a new one when the request is replayable. Redirects are the
// caller's business (http.Client follows them unless told not to).
func (u *Upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	t := u.pick()
	if req.URL == nil || req.URL.Host != t.host || (req.URL.Scheme == "https") != (t.tls != nil) {
		closeBody(req)
		return nil, errors.New("proxy: service " + u.name + ": a request for another host")
	}
	ctx := req.Context()
	deadline, _ := ctx.Deadline()
	c, stop, _, err := t.roundTrip(req, &Forwarding{Path: req.URL.EscapedPath()}, false, start, deadline, true)
	if err != nil {
		closeBody(req)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	closeBody(req)
	h := &c.head
	if h.status == http.StatusSwitchingProtocols {
		stop()
		c.close()
		return nil, headError("101 to a request that did not ask to upgrade")
	}
	resp := &http.Response{
		Status:     strconv.Itoa(h.status) + " " + http.StatusText(h.status),
		StatusCode: h.status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{},
		ContentLength: -1,
		Request:       req,
	}
	h.copyFields(resp.Header)
	body := &pooledBody{t: t, c: c, stop: stop, fr: h.framing(req.Method == http.MethodHead), remaining: -1, closeAfter: h.close}
	switch body.fr {
	case byLength:
		body.remaining, resp.ContentLength = h.contentLength, h.contentLength
		body.src = c.br
	case byChunks:
		body.src = httputil.NewChunkedReader(c.br)
	case byClose:
		body.src = c.br
	}
	resp.Body = body
	if body.fr == noBody || body.remaining == 0 {
		resp.ContentLength = 0
		body.release(true)
	}
	return resp, nil
}

// closeBody closes a request's body, as a RoundTripper must.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// pooledBody is a response body read straight off a pooled connection.
type pooledBody struct {
	t          *target
	c          *conn // nil once released
	stop       func() bool
	fr         framing
	src        io.Reader
	remaining  int64 // bytes left of a Content-Length body; -1 otherwise
	closeAfter bool  // the upstream said Connection: close
	err        error // the error every later Read returns
}

func (b *pooledBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.c == nil || b.fr == noBody || b.remaining == 0 {
		b.err = io.EOF
		return 0, io.EOF
	}
	if b.remaining > 0 && int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.src.Read(p)
	if b.remaining > 0 {
		b.remaining -= int64(n)
	}
	switch {
	case err == io.EOF && b.fr == byLength:
		err = io.ErrUnexpectedEOF // the upstream closed before the declared end
	case err == nil && b.remaining == 0:
		err = io.EOF
	}
	if err != nil {
		b.err = err
		reusable := err == io.EOF && b.fr != byClose
		if reusable && b.fr == byChunks {
			reusable = skipTrailers(b.c.br)
		}
		b.release(reusable)
	}
	return n, err
}

// Close releases the connection: to the pool when the body was read to its
// end, else closed (what is left unread is never drained).
func (b *pooledBody) Close() error {
	if b.err == nil {
		b.err = errors.New("proxy: read on a closed response body")
	}
	b.release(false)
	return nil
}

// release gives the connection back to the pool when reuse allows it and
// nothing aborted it, or closes it.
func (b *pooledBody) release(reuse bool) {
	c := b.c
	if c == nil {
		return
	}
	b.c = nil
	if !b.stop() {
		reuse = false // aborted by the context: the connection is spent
	}
	if reuse && !b.closeAfter && c.br.Buffered() == 0 {
		c.setDeadline(time.Time{})
		b.t.put(c)
		return
	}
	c.close()
}
