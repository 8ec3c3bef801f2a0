// Package http1 is the edge's HTTP/1.1 server. It reads request heads
// strictly (RFC 9112: see parseHead), so that no ambiguously framed
// request is ever passed on, and it is lean where net/http is general: a
// request head is one string that the fields are cut from, response
// fields are written as they are (not sorted), a head is read under a
// deadline only when it does not arrive in one read, and no goroutine
// watches the connection for a client that goes away unless someone waits
// on the request's context for more than a few milliseconds (see
// requestContext). Handlers get a standard
// *http.Request and an http.ResponseWriter that flushes, hijacks, sets
// deadlines (http.ResponseController) and can be finished early (Finish).
//
// HTTP/2 stays with net/http: TLS connections that negotiate h2 never
// reach this server.
package http1

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the Server's limits.
const (
	DefaultMaxHeadBytes = 1 << 20 // request line and fields, like net/http's
	// maxDrainBytes is how much of a body the handler left unread is read
	// and discarded to keep the connection (net/http's threshold too).
	maxDrainBytes = 256 << 10
	// lingerTimeout bounds how long a connection the server closes after
	// an error keeps reading what the client still sends, so that the
	// client reads the answer rather than a reset.
	lingerTimeout = 500 * time.Millisecond
)

// Server serves HTTP/1.x connections to Handler.
type Server struct {
	Handler http.Handler
	// ReadHeaderTimeout bounds the time from a head's first byte to its
	// end; IdleTimeout the wait for the next request on a kept connection.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// MaxHeadBytes bounds a request line and its fields (431 beyond);
	// 0 means DefaultMaxHeadBytes.
	MaxHeadBytes int
	// ConnContext, when set, makes the context whose values a
	// connection's requests see.
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	// ErrorAnswer renders the answers the server gives itself, to heads
	// it cannot read: their fields (Content-Type, a request id, ...) and
	// body. The server adds Content-Length, Cache-Control: no-store and
	// Connection: close. Without it the answer is the detail as plain text.
	ErrorAnswer func(status int, detail string) (fields http.Header, body []byte)
	// Log gets panics and the server's own failures; nil discards them.
	Log *slog.Logger

	shuttingDown atomic.Bool
	mu           sync.Mutex
	listeners    map[*net.Listener]struct{}
	conns        map[*conn]struct{}
}

// Serve accepts connections on l and serves each on its own goroutine
// until l fails or the server shuts down (http.ErrServerClosed).
func (s *Server) Serve(l net.Listener) error {
	if !s.track(&l, true) {
		return http.ErrServerClosed
	}
	defer s.track(&l, false)
	var backoff time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.shuttingDown.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait, then go on.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := s.newConn(rwc)
		if !s.trackConn(c, true) {
			_ = rwc.Close()
			continue
		}
		go c.serve()
	}
}

func (s *Server) track(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.shuttingDown.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = map[*net.Listener]struct{}{}
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.shuttingDown.Load() {
		return false
	}
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

// Shutdown stops accepting, closes idle connections, and waits for the
// others to finish their request (each closes after its answer) until ctx
// ends. It returns ctx's error if connections were still busy then.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	s.closeListeners()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close stops accepting and closes every connection at once.
func (s *Server) Close() error {
	s.shuttingDown.Store(true)
	s.closeListeners()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.state.Store(stateClosed)
		_ = c.rwc.Close()
		delete(s.conns, c)
	}
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		_ = (*l).Close()
		delete(s.listeners, l)
	}
}

// closeIdle closes the connections waiting for a request and reports
// whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			_ = c.rwc.Close()
			delete(s.conns, c)
		}
	}
	return len(s.conns) == 0
}

func (s *Server) maxHeadBytes() int {
	if s.MaxHeadBytes > 0 {
		return s.MaxHeadBytes
	}
	return DefaultMaxHeadBytes
}

// logError logs the server's own trouble (a handler's panic).
func (s *Server) logError(msg string, args ...any) {
	if s.Log != nil {
		s.Log.Error(msg, args...)
	}
}
