package server

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
	"time"
)

// The rapid-reset budget of an HTTP/2 connection (CVE-2023-44487): a
// client may reset this many streams in resetWindow; the next reset gets
// the connection GOAWAY ENHANCE_YOUR_CALM and closed. Browsers cancel a
// few streams when a page is left; an attack resets thousands a second.
const (
	resetBudget = 200
	resetWindow = 10 * time.Second
)

// HTTP/2 frame types and the error code the guard uses (RFC 9113 §6, §7).
const (
	frameHeaders       = 0x1
	frameRSTStream     = 0x3
	frameGoAway        = 0x7
	errEnhanceYourCalm = 0xb
	frameHeaderLen     = 9
)

// clientPreface is what an HTTP/2 client sends before its first frame.
const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2Conn is a TLS connection that negotiated h2, as net/http's HTTP/2
// server reads and writes it. It follows the frames both ways: it counts
// the client's stream resets and, past the budget, sends GOAWAY
// ENHANCE_YOUR_CALM between two of the server's frames and closes the
// connection — net/http has no way to be asked for that GOAWAY, and its
// own guard only fires when reset streams outrun their handlers, which the
// gateway's end at once. It also carries the TLS state: net/http sees the
// wrapper, not the *tls.Conn.
type h2Conn struct {
	net.Conn
	tls tls.ConnectionState

	in          frameCursor // the client's frames (after the preface)
	prefaceLeft int
	lastStream  uint32 // the highest stream the client opened
	resets      int    // in the current window
	windowStart time.Time
	now         func() time.Time

	mu       sync.Mutex // serializes writes, and the GOAWAY with them
	out      frameCursor
	calm     bool // over budget: GOAWAY at the next frame boundary
	goneAway bool
}

func newH2Conn(c *tls.Conn) *h2Conn {
	return &h2Conn{Conn: c, tls: c.ConnectionState(), prefaceLeft: len(clientPreface), now: time.Now}
}

func (c *h2Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.observe(p[:n]) {
		c.mu.Lock()
		c.calm = true
		if c.out.atBoundary() {
			c.goAwayLocked()
		}
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	return n, err
}

// observe follows the client's bytes and reports whether a reset went over
// the budget. Only the server's read loop calls it.
func (c *h2Conn) observe(b []byte) bool {
	if c.prefaceLeft > 0 {
		skip := min(c.prefaceLeft, len(b))
		c.prefaceLeft -= skip
		b = b[skip:]
	}
	over := false
	c.in.advance(b, func(typ byte, stream uint32) {
		switch typ {
		case frameHeaders:
			c.lastStream = max(c.lastStream, stream)
		case frameRSTStream:
			now := c.now()
			if now.Sub(c.windowStart) > resetWindow {
				c.windowStart, c.resets = now, 0
			}
			c.resets++
			over = over || c.resets > resetBudget
		}
	})
	return over
}

func (c *h2Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goneAway {
		return 0, net.ErrClosed
	}
	if !c.calm {
		c.out.advance(p, nil)
		return c.Conn.Write(p)
	}
	// Over budget with a frame half written: finish it, then GOAWAY.
	n := c.out.untilBoundary(p)
	written, err := c.Conn.Write(p[:n])
	c.out.advance(p[:written], nil)
	if err == nil && c.out.atBoundary() {
		c.goAwayLocked()
	}
	if err == nil {
		err = net.ErrClosed
	}
	return written, err
}

// goAwayLocked sends GOAWAY ENHANCE_YOUR_CALM naming the last stream the
// client opened, and closes the connection. c.mu is held, and the server's
// output is between two frames.
func (c *h2Conn) goAwayLocked() {
	if c.goneAway {
		return
	}
	c.goneAway = true
	var f [frameHeaderLen + 8]byte
	f[2], f[3] = 8, frameGoAway // length 8, flags 0, stream 0
	binary.BigEndian.PutUint32(f[9:], c.lastStream&0x7fffffff)
	binary.BigEndian.PutUint32(f[13:], errEnhanceYourCalm)
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Conn.Write(f[:])
	_ = c.Conn.Close()
}

// frameCursor follows a stream of HTTP/2 frames: where the next frame
// header starts, and each header as it completes.
type frameCursor struct {
	head      [frameHeaderLen]byte
	headN     int    // header bytes collected
	remaining uint32 // payload bytes of the current frame still to come
}

func (f *frameCursor) atBoundary() bool { return f.headN == 0 && f.remaining == 0 }

// advance consumes b, calling onHeader (when not nil) with each frame's
// type and stream as its header completes.
func (f *frameCursor) advance(b []byte, onHeader func(typ byte, stream uint32)) {
	for len(b) > 0 {
		if f.remaining > 0 {
			skip := min(uint32(len(b)), f.remaining)
			f.remaining -= skip
			b = b[skip:]
			continue
		}
		k := copy(f.head[f.headN:], b)
		f.headN += k
		b = b[k:]
		if f.headN < frameHeaderLen {
			return
		}
		f.headN = 0
		f.remaining = uint32(f.head[0])<<16 | uint32(f.head[1])<<8 | uint32(f.head[2])
		if onHeader != nil {
			onHeader(f.head[3], binary.BigEndian.Uint32(f.head[5:])&0x7fffffff)
		}
	}
}

// untilBoundary returns how many bytes of b finish the current frame (all
// of b when it does not).
func (f *frameCursor) untilBoundary(b []byte) int {
	if f.atBoundary() {
		return 0
	}
	need := int(f.remaining)
	if f.headN > 0 {
		// A header half written: the rest of it, then its payload.
		var head [frameHeaderLen]byte
		copy(head[:], f.head[:f.headN])
		rest := copy(head[f.headN:], b)
		if f.headN+rest < frameHeaderLen {
			return len(b)
		}
		need = frameHeaderLen - f.headN + int(uint32(head[0])<<16|uint32(head[1])<<8|uint32(head[2]))
	}
	return min(need, len(b))
}

type h2Key struct{}

// withH2Conn is the HTTP/2 server's ConnContext: it makes a connection's
// TLS state reachable from its requests (see h2TLS).
func withH2Conn(ctx context.Context, c net.Conn) context.Context {
	if c, ok := c.(*h2Conn); ok {
		return context.WithValue(ctx, h2Key{}, &c.tls)
	}
	return ctx
}

// h2TLS is the TLS state of the HTTP/2 connection r arrived on: net/http
// sees the h2Conn wrapper, not the *tls.Conn, and leaves r.TLS nil.
func h2TLS(r *http.Request) *tls.ConnectionState {
	state, _ := r.Context().Value(h2Key{}).(*tls.ConnectionState)
	return state
}
