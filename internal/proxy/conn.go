package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"time"
)

// aLongTimeAgo is a deadline in the past: setting it makes pending and
// future I/O on a connection fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one HTTP/1.1 connection to a target, carrying one request at a
// time. Its buffers and scratch space are reused by every request it carries,
// which is what keeps a forwarded request close to allocation-free.
type conn struct {
	t    *target
	nc   net.Conn   // the connection, TLS included
	sc   staleCheck // peeks at the TCP socket under nc while idle
	br   *bufio.Reader
	bw   *bufio.Writer
	head responseHead // the response being relayed
	buf  []byte       // raw bytes of the response head being read

	idleAt      time.Time // when the connection was last put in the pool
	reused      bool      // it has carried a request before
	hasDeadline bool      // a deadline is set on nc
	abortFn     func()    // c.abort, bound once

	scratch [20]byte // formatting numbers into the request
}

// handshakeError is a TLS handshake with a target that failed: a
// certificate not trusted or not for the name, a client certificate
// refused, no protocol in common. It says so in the log.
type handshakeError struct{ err error }

func (e handshakeError) Error() string { return "tls handshake: " + e.err.Error() }
func (e handshakeError) Unwrap() error { return e.err }

// dial opens a connection to the target, with TLS when the target is https.
// The dial and the handshake together end by deadline when it is set, and
// in any case after the target's dial timeout.
func (t *target) dial(ctx context.Context, deadline time.Time) (*conn, error) {
	d := t.dialer
	d.Deadline = time.Now().Add(d.Timeout)
	if !deadline.IsZero() && deadline.Before(d.Deadline) {
		d.Deadline = deadline
	}
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	c := &conn{t: t}
	c.sc.init(nc)
	if t.tls != nil {
		nc.SetDeadline(d.Deadline)
		tc := tls.Client(nc, t.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, handshakeError{err}
		}
		c.hasDeadline = true
		nc = tc
	}
	c.nc = nc
	c.br = bufio.NewReaderSize(nc, 4<<10)
	c.bw = bufio.NewWriterSize(nc, 4<<10)
	c.abortFn = c.abort
	return c, nil
}

// setDeadline bounds the connection's I/O by t (none when t is zero),
// skipping the call when there is nothing to change.
func (c *conn) setDeadline(t time.Time) {
	if t.IsZero() && !c.hasDeadline {
		return
	}
	c.nc.SetDeadline(t)
	c.hasDeadline = !t.IsZero()
}

// abortOnDone makes the connection's I/O fail once ctx is done, so a client
// that leaves does not keep the upstream busy. The returned stop reports
// false when the abort already happened (the connection is then spent).
func (c *conn) abortOnDone(ctx context.Context) (stop func() bool) {
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, c.abortFn)
}

// abort makes pending and future I/O on the connection fail.
func (c *conn) abort() { c.nc.SetDeadline(aLongTimeAgo) }

// close closes the connection.
func (c *conn) close() { c.nc.Close() }
