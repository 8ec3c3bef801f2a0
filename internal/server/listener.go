package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// handshakeTimeout bounds a TLS handshake: a client that opens a connection
// and stalls holds a goroutine and a socket this long at most.
const handshakeTimeout = 10 * time.Second

// edgeListener is what every data-plane address is served from. Whether a
// connection speaks TLS is decided when it is accepted, from the listener's
// current configuration (tls, swapped by Apply and by certificate reloads,
// so neither closes a connection): a cleartext one is handed over as it is,
// for the address's HTTP/1.1 server; a TLS one after its handshake, which
// runs on its own goroutine so that a slow client never holds up the next —
// as a *tls.Conn for the HTTP/1.1 server, or wrapped in an h2Conn (the
// rapid-reset guard) when it negotiated h2, for the address's HTTP/2
// server, which takes them from H2().
type edgeListener struct {
	inner net.Listener
	tls   atomic.Pointer[certs.Loaded] // nil: cleartext HTTP
	log   *slog.Logger

	ready     chan net.Conn // HTTP/1
	h2ready   chan net.Conn // HTTP/2
	errs      chan error
	closed    chan struct{}
	closeOnce sync.Once
}

func newEdgeListener(inner net.Listener, log *slog.Logger) *edgeListener {
	l := &edgeListener{inner: inner, log: log, ready: make(chan net.Conn), h2ready: make(chan net.Conn),
		errs: make(chan error), closed: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *edgeListener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case l.errs <- err: // net/http retries temporary errors
			case <-l.closed:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		loaded := l.tls.Load()
		if loaded == nil {
			l.deliver(l.ready, c)
			continue
		}
		go l.handshake(c, loaded.Config)
	}
}

// handshake runs the TLS handshake of c and delivers the connection.
func (l *edgeListener) handshake(c net.Conn, cfg *tls.Config) {
	tc := tls.Server(c, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		// Scanners and old clients fail here all day: not worth more.
		l.log.Debug("TLS handshake failed", "remote", c.RemoteAddr().String(), "error", err)
		_ = c.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		l.deliver(l.h2ready, newH2Conn(tc))
		return
	}
	l.deliver(l.ready, tc)
}

// deliver hands c to an Accept through to, or closes it when the listener
// is closed.
func (l *edgeListener) deliver(to chan net.Conn, c net.Conn) {
	select {
	case to <- c:
	case <-l.closed:
		_ = c.Close()
	}
}

func (l *edgeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close closes the listener; closing it again is no error (the HTTP/1
// and HTTP/2 servers of an address both close it when they shut down).
func (l *edgeListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.closed)
		err = l.inner.Close()
	})
	return err
}

func (l *edgeListener) Addr() net.Addr { return l.inner.Addr() }

// H2 is the listener of the connections that negotiated h2.
func (l *edgeListener) H2() net.Listener { return h2Listener{l} }

// h2Listener hands over an edgeListener's HTTP/2 connections. Closing it
// closes the edgeListener.
type h2Listener struct{ l *edgeListener }

func (h h2Listener) Accept() (net.Conn, error) {
	select {
	case c := <-h.l.h2ready:
		return c, nil
	case <-h.l.closed:
		return nil, net.ErrClosed
	}
}

func (h h2Listener) Close() error { return h.l.Close() }

func (h h2Listener) Addr() net.Addr { return h.l.Addr() }
