// Package proxy forwards requests to upstream Services over its own HTTP/1.1
// transport, written for a gateway's hot path: a LIFO pool of connections per
// target with their buffers kept across requests, request heads written by
// hand into a bufio.Writer, response heads parsed by hand straight into the
// client's header map, no per-request goroutines or timers, no header map
// cloning, no fmt or reflection. A warm forwarded GET allocates two objects:
// one string holding the response head, and the slice of its field values.
//
// The edge stays net/http's server: Forward takes its ResponseWriter and
// Request. What the upstream sees follows CONTRACT §3: hop-by-hop fields and
// client copies of the gateway's own fields removed, X-Forwarded-* and
// X-Request-Id set by the gateway.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/httpsyntax"
)

// UpstreamConfig describes one Service: where it is and how to reach it.
type UpstreamConfig struct {
	Name    string     // the Service name, for errors and logs only
	Targets []*url.URL // http:// or https:// URLs, used round-robin

	// TLS, when set, configures https targets (see LoadTLS); its ServerName
	// defaults to the target's host. Without it, certificates are verified
	// against the system roots. Whatever it says, TLS 1.2 is the minimum
	// and ALPN offers http/1.1 only.
	TLS *tls.Config

	DialTimeout      time.Duration // connect (and TLS handshake) timeout; default 5s
	MaxIdlePerTarget int           // idle connections kept per target; default 512
	IdleTimeout      time.Duration // idle connections older than this are closed, never reused; default 90s
}

// Defaults of UpstreamConfig.
const (
	DefaultDialTimeout      = 5 * time.Second
	DefaultMaxIdlePerTarget = 512
	DefaultIdleTimeout      = 90 * time.Second
)

// Upstream is one Service: its targets, used round-robin, each with its own
// connection pool. It is safe for concurrent use.
type Upstream struct {
	name    string
	targets []*target
	next    atomic.Uint32
}

// Name is the Service's name.
func (u *Upstream) Name() string { return u.name }

// NewUpstream checks cfg and builds its Upstream. No connection is opened
// until the first request.
func NewUpstream(cfg UpstreamConfig) (*Upstream, error) {
	if len(cfg.Targets) == 0 {
		return nil, errors.New("proxy: service " + cfg.Name + ": no target URLs")
	}
	dialTimeout := orDefault(cfg.DialTimeout, DefaultDialTimeout)
	idleTimeout := orDefault(cfg.IdleTimeout, DefaultIdleTimeout)
	maxIdle := cfg.MaxIdlePerTarget
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdlePerTarget
	}
	u := &Upstream{name: cfg.Name}
	base := &tls.Config{}
	if cfg.TLS != nil {
		base = cfg.TLS.Clone()
	}
	base.MinVersion = max(base.MinVersion, tls.VersionTLS12)
	// This transport speaks HTTP/1.1 only; say so, so that the upstream
	// never picks h2.
	base.NextProtos = []string{"http/1.1"}
	if base.ClientSessionCache == nil {
		// Resumed sessions spare a full handshake each time the pool grows
		// or an idle connection is replaced.
		base.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	}
	for _, tu := range cfg.Targets {
		t, err := newTarget(tu, base)
		if err != nil {
			return nil, errors.New("proxy: service " + cfg.Name + ": " + err.Error())
		}
		t.dialer = net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
		t.maxIdle = maxIdle
		t.idleTimeout = idleTimeout
		u.targets = append(u.targets, t)
	}
	return u, nil
}

// orDefault returns d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// newTarget checks one target URL and prepares what every request to it
// needs: the address to dial, the Host field, the path prefix and, for
// https, base with the target's host as the default server name.
func newTarget(u *url.URL, base *tls.Config) (*target, error) {
	if u == nil {
		return nil, errors.New("nil target URL")
	}
	var port string
	switch u.Scheme {
	case "http":
		port = "80"
	case "https":
		port = "443"
	default:
		return nil, errors.New("target " + u.Redacted() + ": scheme must be http or https")
	}
	if u.Hostname() == "" || u.User != nil || u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, errors.New("target " + u.Redacted() + ": want scheme://host[:port][/path] only")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	t := &target{
		addr:       net.JoinHostPort(u.Hostname(), port),
		host:       u.Host,
		pathPrefix: strings.TrimSuffix(u.EscapedPath(), "/"),
	}
	if !httpsyntax.ValidFieldValue(t.host) || strings.ContainsAny(t.host, " \t") {
		return nil, errors.New("target " + u.Redacted() + ": invalid host")
	}
	if u.Scheme == "https" {
		t.tls = base.Clone()
		if t.tls.ServerName == "" {
			t.tls.ServerName = u.Hostname()
		}
	}
	return t, nil
}

// Close closes the idle connections of every target and stops pooling. Requests
// in flight finish; their connections are closed when they are done. Forward
// still works after Close, without pooling.
func (u *Upstream) Close() {
	for _, t := range u.targets {
		t.close()
	}
}

// Forwarding is what the gateway decided about one request before it is
// forwarded: the path to send and the values of the fields it sets.
type Forwarding struct {
	// Path is the normalized path to send (after any stripPrefix) in its
	// escaped, wire form; bytes that cannot appear in a request line are
	// percent-encoded. The query is r.URL.RawQuery.
	Path string

	RequestID         string // sent as X-Request-Id
	ClientIP          string // the client address as the gateway determined it
	PriorForwardedFor string // the client's X-Forwarded-For to keep (trusted peers only), "" otherwise
	Proto, Host       string // X-Forwarded-Proto and X-Forwarded-Host ("" sends none)

	// Timeout bounds connecting, sending the request and waiting for the
	// response head (0: no bound). Response bodies are not bounded here; the
	// server's write timeout bounds slow clients.
	Timeout time.Duration

	// AllowWebSocket lets a WebSocket upgrade through; without it the
	// upgrade fields are removed and the request goes as a plain one.
	AllowWebSocket bool

	// StripHeader is a client field to drop (the credential the gateway
	// consumed), and StripQuery a query parameter to drop; "" for none.
	StripHeader, StripQuery string

	// TraceParent and TraceState, when TraceParent is set, replace the
	// client's W3C trace context fields: the gateway's span is the
	// upstream's parent. Unset, the client's pass through unchanged.
	TraceParent, TraceState string

	// ExtraHeaders are added after scrubbing (X-Consumer-Name, ...). Names
	// that frame or route the message (Host, Content-Length, Connection, ...)
	// or that Forward sets itself (X-Forwarded-*, X-Request-Id) are refused.
	ExtraHeaders [][2]string
}

// Result describes a forwarded exchange, for logs and metrics.
type Result struct {
	Status          int           // the status relayed to the client
	BytesWritten    int64         // response body bytes written to the client
	UpstreamLatency time.Duration // from the start of Forward to the response head
}

// Forward sends r to one of the Service's targets and streams the answer to
// w.
//
// An error is returned, always as an *httperr.Error, only when nothing has
// been written to w: 502 when the upstream cannot be reached or answers
// something malformed, 504 when f.Timeout passes first, 400/413 when the
// client's body cannot be read, 500 when f holds a value that cannot be
// sent (a CR or LF in a header, a reserved extra header).
//
// Once the response has started, a failure of either side (the upstream
// breaking off mid-body, the client going away) aborts the client
// connection with panic(http.ErrAbortHandler), as net/http's own reverse
// proxy does, so that a truncated body is never mistaken for a whole one;
// callers that record requests should do it in a deferred function.
//
// Server-sent events and bodies of unknown length are flushed to the client
// read by read, through w's Flush (found through Unwrap like
// http.ResponseController does); a WebSocket upgrade needs w's Hijack.
// While a stream is relayed, or when f.Timeout is 0, a client that goes
// away (r.Context() done) ends the upstream exchange.
//
// A pooled connection is checked before use (a non-blocking peek at its
// socket), so that one the upstream closed, or wrote an unsolicited 408 to,
// while it sat idle is not used. One that fails anyway before any byte of a
// response arrives (the upstream closed it just then) is retried once on a
// new connection when the request has no body and an idempotent method.
func (u *Upstream) Forward(w http.ResponseWriter, r *http.Request, f *Forwarding) (Result, error) {
	start := time.Now()
	t := u.pick()
	var deadline time.Time
	if f.Timeout > 0 {
		deadline = start.Add(f.Timeout)
	}
	ctx := r.Context()
	upgrade := f.AllowWebSocket && wantsWebSocket(r)
	c, stop, op, err := t.roundTrip(r, f, upgrade, start, deadline, deadline.IsZero())
	if err != nil {
		return Result{}, u.fail(t, op, err)
	}

	h := &c.head
	latency := time.Since(start)
	if h.status == http.StatusSwitchingProtocols {
		stop()
		if !upgrade {
			c.close()
			return Result{}, u.fail(t, "exchange", headError("101 to a request that did not ask to upgrade"))
		}
		return u.switchProtocols(w, c, latency)
	}
	fr := h.framing(r.Method == http.MethodHead)
	if fr != noBody && (fr != byLength || h.contentLength > int64(c.br.Buffered())) {
		// The body is not bounded by f.Timeout; the server bounds slow
		// clients. (A body already buffered needs no more reads, and the
		// next request replaces the deadline: one call saved.)
		c.setDeadline(time.Time{})
	}
	flush := h.streams(fr)
	if flush && !deadline.IsZero() {
		// A stream may idle for long: stop it when the client leaves.
		stop = c.abortOnDone(ctx)
	}
	h.copyFields(w.Header())
	w.WriteHeader(h.status)
	n, reusable, err := c.relayBody(w, h, fr, flush)
	if !stop() {
		reusable = false // aborted: the connection's deadline is spent
	}
	if err != nil {
		c.close()
		panic(http.ErrAbortHandler)
	}
	res := Result{Status: h.status, BytesWritten: n, UpstreamLatency: latency}
	if reusable && !h.close && c.br.Buffered() == 0 {
		t.put(c) // c, and h with it, belong to the pool from here on
	} else {
		c.close()
	}
	return res, nil
}

// pick returns the target of the next request: round robin.
func (u *Upstream) pick() *target {
	if len(u.targets) == 1 {
		return u.targets[0]
	}
	return u.targets[(u.next.Add(1)-1)%uint32(len(u.targets))]
}

// roundTrip gets a connection to t — the most recent idle one, else a new
// one — writes r on it as f says and reads the final response's head into
// c.head. A pooled connection that fails before any byte of a response
// arrives is replaced once by a new one when r may be replayed. With watch,
// the connection is aborted when r's context is done (stop undoes that and
// reports whether it happened). On failure op names the step that failed:
// "connect" or "exchange".
func (t *target) roundTrip(r *http.Request, f *Forwarding, upgrade bool, start, deadline time.Time, watch bool) (c *conn, stop func() bool, op string, err error) {
	ctx := r.Context()
	canRetry := replayable(r)
	for attempt := 0; ; attempt++ {
		if attempt == 0 {
			c = t.get(start)
		}
		if c == nil {
			if c, err = t.dial(ctx, deadline); err != nil {
				return nil, notWatching, "connect", err
			}
		}
		c.setDeadline(deadline)
		stop = notWatching
		if watch {
			stop = c.abortOnDone(ctx)
		}
		pooled := c.reused
		var retryable bool
		if retryable, err = c.exchange(r, f, upgrade); err == nil {
			return c, stop, "", nil
		}
		stop()
		c.close()
		c = nil
		if !(attempt == 0 && pooled && retryable && canRetry) {
			return nil, notWatching, "exchange", err
		}
	}
}

// notWatching is the stop function when no abortOnDone is registered.
func notWatching() bool { return true }

// exchange writes the request and reads the head of the final response into
// c.head, skipping interim (1xx) responses other than 101. retryable reports
// that the request failed on a connection failure before any byte of a
// response arrived (not a timeout, not the client's body, not an invalid
// request), so that it may be tried again on another connection.
func (c *conn) exchange(r *http.Request, f *Forwarding, upgrade bool) (retryable bool, err error) {
	if err := c.writeRequest(r, f, upgrade); err != nil {
		switch err.(type) {
		case invalidRequestError, bodyReadError:
			return false, err
		}
		return !isTimeout(err), err
	}
	for interim := 0; ; interim++ {
		c.buf, err = readResponseHead(c.br, &c.head, c.buf)
		if err != nil {
			return interim == 0 && len(c.buf) == 0 && !isTimeout(err), err
		}
		if s := c.head.status; s >= 200 || s == http.StatusSwitchingProtocols {
			return false, nil
		}
		if interim == maxInterim {
			return false, headError("too many interim responses")
		}
	}
}

// replayable reports whether r may be sent again after its first attempt
// failed: it has no body, and its method is idempotent (RFC 9110 §9.2.2) or
// it carries an idempotency key.
func replayable(r *http.Request) bool {
	if r.ContentLength != 0 || (r.Body != nil && r.Body != http.NoBody && r.ContentLength < 0) {
		return false
	}
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return r.Header["Idempotency-Key"] != nil || r.Header["X-Idempotency-Key"] != nil
}

// isTimeout reports whether err is a deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
