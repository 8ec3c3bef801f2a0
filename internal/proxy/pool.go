package proxy

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// target is one upstream address of a Service and its pool of idle
// connections: a LIFO stack, so the busiest connections stay warm and the
// ones at the bottom age out.
type target struct {
	addr       string      // host:port to dial
	host       string      // the Host field sent upstream
	pathPrefix string      // the target URL's path, put before every request path
	tls        *tls.Config // nil for http
	dialer     net.Dialer

	maxIdle     int
	idleTimeout time.Duration

	mu     sync.Mutex
	idle   []*conn     // oldest first
	closed bool        // the Upstream was closed: nothing is pooled any more
	reaper *time.Timer // closes conns that outlive idleTimeout; armed while idle is not empty
	armed  bool
}

// get returns the most recently used idle connection that is still usable,
// or nil. Expired connections are closed, and so are those the upstream has
// closed, reset or written to while they sat idle: reading an unsolicited
// byte (a 408, a stray second response) as the answer to the next request
// would hand one client's response to another.
func (t *target) get(now time.Time) *conn {
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			return nil
		}
		c := t.idle[n-1]
		if now.Sub(c.idleAt) >= t.idleTimeout {
			// The newest has expired, so all have.
			expired := t.idle
			t.idle = nil
			t.mu.Unlock()
			closeAll(expired)
			return nil
		}
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		if c.stale() {
			c.close()
			continue
		}
		return c
	}
}

// put returns c to the pool, or closes it when the pool is full or closed.
func (t *target) put(c *conn) {
	// Drop what the last response left, so that an idle connection holds
	// its buffers and nothing more.
	c.head.reset()
	if cap(c.buf) > 8<<10 {
		c.buf = nil
	}
	c.idleAt = time.Now()
	c.reused = true
	t.mu.Lock()
	if t.closed || len(t.idle) >= t.maxIdle {
		t.mu.Unlock()
		c.close()
		return
	}
	t.idle = append(t.idle, c)
	if !t.armed {
		t.armed = true
		if t.reaper == nil {
			t.reaper = time.AfterFunc(t.idleTimeout, t.reap)
		} else {
			t.reaper.Reset(t.idleTimeout)
		}
	}
	t.mu.Unlock()
}

// reap closes the idle connections that have outlived the idle timeout and
// re-arms itself for the oldest remaining one.
func (t *target) reap() {
	now := time.Now()
	t.mu.Lock()
	n := 0
	for n < len(t.idle) && now.Sub(t.idle[n].idleAt) >= t.idleTimeout {
		n++
	}
	expired := make([]*conn, n)
	copy(expired, t.idle)
	t.idle = t.idle[:copy(t.idle, t.idle[n:])]
	clear(t.idle[len(t.idle) : len(t.idle)+n])
	if len(t.idle) > 0 && !t.closed {
		t.reaper.Reset(t.idle[0].idleAt.Add(t.idleTimeout).Sub(now))
	} else {
		t.armed = false
	}
	t.mu.Unlock()
	closeAll(expired)
}

// close closes the idle connections and stops pooling; connections in use
// are closed when their request ends.
func (t *target) close() {
	t.mu.Lock()
	t.closed = true
	idle := t.idle
	t.idle = nil
	if t.reaper != nil {
		t.reaper.Stop()
	}
	t.armed = false
	t.mu.Unlock()
	closeAll(idle)
}

func closeAll(conns []*conn) {
	for _, c := range conns {
		c.close()
	}
}
