package http1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A connection's states, for Shutdown: only an idle one (waiting for the
// first byte of a request) is closed under its feet.
const (
	stateIdle int32 = iota
	stateActive
	stateClosed
)

// conn is one client connection and the state of its current exchange.
type conn struct {
	srv        *Server
	rwc        net.Conn
	remoteAddr string
	tls        *tls.ConnectionState
	base       context.Context // the requests' values
	state      atomic.Int32
	br         *bufio.Reader // reads through raw: the watcher's stashed byte first
	bw         *bufio.Writer
	raw        rawReader
	scratch    [20]byte // number formatting
	held       []byte   // the responses' held-back body buffer (see smallBody), reused
	// readDeadline is the read deadline last set on rwc (zero: none), so
	// that the idle deadline is set only when it moved by a second;
	// ourDeadline whether the server set it (see setReadDeadline). c.mu.
	readDeadline time.Time
	ourDeadline  bool

	// mu guards the watcher's state, shared with requestContext.
	mu           sync.Mutex
	ctx          *requestContext // the current request's
	bodyDone     bool            // the current request's body was read to its end (or it has none)
	watchWanted  bool            // someone waits on ctx: watch for the client leaving
	watching     bool            // the watcher goroutine runs
	watchStopped bool            // stopWatch interrupted it: its error is ours, not the client's
	watchDone    chan struct{}
	watchTimer   *time.Timer // starts the watch watchDelay after it was wanted
	clientGone   bool        // the watcher saw the connection end
	finished     bool        // the handler returned: no new watcher
}

// rawReader is what the connection's bufio.Reader reads from: a byte the
// watcher read first (it could not put it back), then the connection.
type rawReader struct {
	c       *conn
	stash   [1]byte
	stashed bool
}

func (r *rawReader) Read(p []byte) (int, error) {
	if r.stashed && len(p) > 0 {
		r.stashed = false
		p[0] = r.stash[0]
		return 1, nil
	}
	return r.c.rwc.Read(p)
}

func (s *Server) newConn(rwc net.Conn) *conn {
	c := &conn{srv: s, rwc: rwc, remoteAddr: rwc.RemoteAddr().String()}
	c.raw.c = c
	c.br = bufio.NewReaderSize(&c.raw, 4<<10)
	c.bw = bufio.NewWriterSize(rwc, 4<<10)
	c.base = context.WithValue(context.Background(), http.LocalAddrContextKey, rwc.LocalAddr())
	if s.ConnContext != nil {
		c.base = s.ConnContext(c.base, rwc)
	}
	return c
}

// serve reads and answers requests until the connection closes.
func (c *conn) serve() {
	hijacked := false
	defer func() {
		if p := recover(); p != nil && p != http.ErrAbortHandler {
			c.srv.logError("panic serving a request", "remote", c.remoteAddr, "panic", p, "stack", string(debug.Stack()))
		}
		if !hijacked {
			c.state.Store(stateClosed)
			_ = c.rwc.Close()
		}
		if c.ctx != nil {
			c.ctx.cancel(context.Canceled) // a handler's panic, a hijacked connection
		}
		c.srv.trackConn(c, false)
	}()
	if tc, ok := c.rwc.(*tls.Conn); ok && !c.handshake(tc) {
		return
	}
	for {
		w, err := c.readRequest()
		if err != nil {
			var pe *parseError
			if errors.As(err, &pe) {
				c.reject(pe)
			}
			return
		}
		c.srv.Handler.ServeHTTP(w, w.req)
		if w.hijacked {
			hijacked = true
			return
		}
		if !c.endRequest(w) {
			return
		}
	}
}

// handshake completes a TLS connection's handshake, if its listener did
// not, and keeps its state for the requests.
func (c *conn) handshake(tc *tls.Conn) bool {
	if !tc.ConnectionState().HandshakeComplete {
		c.headDeadline()
		if err := tc.Handshake(); err != nil {
			return false
		}
	}
	state := tc.ConnectionState()
	c.tls = &state
	return true
}

// readRequest waits for the next request and reads its head. Errors other
// than a *parseError mean the connection ended or idled out: it closes
// without an answer.
func (c *conn) readRequest() (*response, error) {
	c.state.Store(stateIdle)
	if c.srv.shuttingDown.Load() {
		return nil, http.ErrServerClosed
	}
	if c.br.Buffered() == 0 {
		c.idleDeadline()
		if _, err := c.br.Peek(1); err != nil {
			return nil, err
		}
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return nil, net.ErrClosed // Shutdown closed it
	}
	text, err := c.readHead()
	if err != nil {
		return nil, err
	}
	h, pe := parseHead(text)
	if pe != nil {
		return nil, pe
	}
	return c.newRequest(h)
}

// idleDeadline bounds the wait for a request's first byte. The server's
// own deadline is moved only when it would move by more than a tenth of
// IdleTimeout (at most a second): about one call a second on a busy
// connection, not one a request. A deadline the handler set is replaced.
func (c *conn) idleDeadline() {
	c.mu.Lock()
	current, ours := c.readDeadline, c.ourDeadline
	c.mu.Unlock()
	if c.srv.IdleTimeout <= 0 {
		if !current.IsZero() {
			c.setReadDeadline(time.Time{}, false)
		}
		return
	}
	next := time.Now().Add(c.srv.IdleTimeout)
	slack := min(time.Second, c.srv.IdleTimeout/10)
	if d := next.Sub(current); !ours || d < 0 || d > slack {
		c.setReadDeadline(next, true)
	}
}

// setReadDeadline sets the connection's read deadline; ours tells the
// server's own (idle, head, drain: cleared before the body is read) from
// the handler's.
func (c *conn) setReadDeadline(t time.Time, ours bool) {
	c.mu.Lock()
	c.readDeadline, c.ourDeadline = t, ours && !t.IsZero()
	c.mu.Unlock()
	_ = c.rwc.SetReadDeadline(t)
}

// bodyDeadline clears the server's own deadline before the handler first
// reads the body: the idle and head timeouts do not bound a body.
func (c *conn) bodyDeadline() {
	c.mu.Lock()
	ours := c.ourDeadline
	c.mu.Unlock()
	if ours {
		c.setReadDeadline(time.Time{}, false)
	}
}

// readHead returns the next request head, without the empty line that ends
// it, and consumes it. Empty lines before a request line are skipped (RFC
// 9112 §2.2). A head that does not arrive in one read gets
// ReadHeaderTimeout from then on.
func (c *conn) readHead() (string, error) {
	timed := false
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		skip := 0
		for skip < len(buf) && (buf[skip] == '\n' || buf[skip] == '\r' && skip+1 < len(buf) && buf[skip+1] == '\n') {
			skip++
		}
		if skip > 0 {
			_, _ = c.br.Discard(skip)
			continue
		}
		if end, next := headEnd(buf); end >= 0 {
			if end > c.srv.maxHeadBytes() {
				return "", tooLarge()
			}
			text := string(buf[:end])
			_, _ = c.br.Discard(next)
			return text, nil
		}
		if len(buf) > c.srv.maxHeadBytes() {
			return "", tooLarge()
		}
		if len(buf) == c.br.Size() {
			return c.readLongHead(timed)
		}
		if !timed {
			timed = true
			c.headDeadline()
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return "", err
		}
	}
}

// headDeadline bounds the rest of a head's arrival.
func (c *conn) headDeadline() {
	if c.srv.ReadHeaderTimeout > 0 {
		c.setReadDeadline(time.Now().Add(c.srv.ReadHeaderTimeout), true)
	}
}

// headEnd finds the empty line that ends a head in buf: end is the length
// of the head with its last field line's LF, next that of the head with
// the empty line; -1 if buf holds no empty line yet.
func headEnd(buf []byte) (end, next int) {
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return -1, -1
		}
		i += j + 1
		switch {
		case i < len(buf) && buf[i] == '\n':
			return i, i + 1
		case i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n':
			return i, i + 2
		}
	}
}

// readLongHead reads a head longer than the connection's buffer line by
// line (the rare case: long cookies, long targets).
func (c *conn) readLongHead(timed bool) (string, error) {
	if !timed {
		c.headDeadline()
	}
	limit := c.srv.maxHeadBytes()
	var text []byte
	for {
		line, err := c.br.ReadSlice('\n')
		if len(text)+len(line) > limit {
			return "", tooLarge()
		}
		text = append(text, line...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			return "", err
		}
		if n := len(text); n >= 2 && text[n-2] == '\n' || n >= 3 && text[n-3] == '\n' && text[n-2] == '\r' {
			// The empty line: the head is what came before it.
			if text[n-2] == '\n' {
				return string(text[:n-1]), nil
			}
			return string(text[:n-2]), nil
		}
	}
}

func tooLarge() *parseError {
	return &parseError{status: http.StatusRequestHeaderFieldsTooLarge, detail: "request header too large"}
}

// newRequest makes the request of head h and its response.
func (c *conn) newRequest(h *head) (*response, error) {
	target := h.target
	authority := h.method == http.MethodConnect && len(target) > 0 && target[0] != '/'
	if authority {
		target = "http://" + target
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, badRequest("invalid request target")
	}
	if authority {
		u.Scheme = ""
	}
	host := u.Host
	if host == "" {
		host = h.host
	}
	ctx := &requestContext{base: c.base, c: c, refusal: h.refusal}
	r := &http.Request{
		Method:        h.method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    h.minor,
		Header:        h.fields,
		Body:          http.NoBody,
		Host:          host,
		RequestURI:    h.target,
		RemoteAddr:    c.remoteAddr,
		TLS:           c.tls,
		Close:         h.close,
		ContentLength: 0,
	}
	if h.minor == 0 {
		r.Proto = "HTTP/1.0"
	}
	w := &response{c: c, header: make(http.Header, 8), h: h, contentLength: -1}
	bodyDone := true
	switch {
	case h.refusal != nil:
		w.closeAfter = true
	case h.chunked:
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
		w.body = &body{c: c, w: w, chunked: true}
		r.Body, bodyDone = w.body, false
	case h.contentLength > 0:
		r.ContentLength = h.contentLength
		w.body = &body{c: c, w: w, left: h.contentLength}
		r.Body, bodyDone = w.body, false
	}
	if h.close {
		w.closeAfter = true
	}
	c.mu.Lock()
	c.ctx, c.bodyDone, c.watchWanted, c.finished = ctx, bodyDone, false, false
	c.mu.Unlock()
	w.req = r.WithContext(ctx)
	return w, nil
}

// RefusalOf returns why the server will not take r, a request it passed
// to the handler anyway so that it is answered and recorded like any other
// refusal (see Refusal); nil for a request it takes, and for requests
// other servers made.
func RefusalOf(r *http.Request) *Refusal {
	if x, ok := r.Context().(*requestContext); ok {
		return x.refusal
	}
	return nil
}

// reject answers a head the server could not read, then closes.
func (c *conn) reject(pe *parseError) {
	fields, body := http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, []byte(pe.detail+"\n")
	if c.srv.ErrorAnswer != nil {
		fields, body = c.srv.ErrorAnswer(pe.status, pe.detail)
	}
	c.bw.WriteString(statusLine(pe.status, 1))
	writeFields(c.bw, fields)
	c.bw.WriteString("Cache-Control: no-store\r\nConnection: close\r\nContent-Length: ")
	c.bw.Write(strconv.AppendInt(c.scratch[:0], int64(len(body)), 10))
	c.bw.WriteString("\r\n\r\n")
	c.bw.Write(body)
	if c.bw.Flush() == nil {
		c.linger()
	}
}

// linger half-closes the connection and reads what the client still
// sends, for a moment, so that closing it does not reset the connection
// before the client read the answer.
func (c *conn) linger() {
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.rwc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.rwc, maxDrainBytes))
}

// endRequest completes w's exchange after the handler returned and reports
// whether the connection can carry another request.
func (c *conn) endRequest(w *response) bool {
	err := w.Finish() // the edge finished it already: a no-op then
	c.stopWatch()
	c.ctx.cancel(context.Canceled)
	c.mu.Lock()
	gone := c.clientGone
	c.mu.Unlock()
	if err != nil || gone {
		return false
	}
	if !w.closeAfter && !c.drainBody(w) {
		w.closeAfter = true
	}
	if w.closeAfter {
		c.linger()
		return false
	}
	return true
}

// drainBody reads and discards what the handler left of the request body,
// within maxDrainBytes, and reports whether it reached the end.
func (c *conn) drainBody(w *response) bool {
	b := w.body
	if b == nil || b.done {
		return true
	}
	if b.err != nil {
		return false
	}
	c.setReadDeadline(time.Now().Add(lingerTimeout), true)
	n, err := io.Copy(io.Discard, io.LimitReader(bodyDrain{b}, maxDrainBytes+1))
	return err == nil && n <= maxDrainBytes && b.done
}
