package http1

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// requestContext is a request's context. It is done when the handler
// returns or when the client goes away — and the second is only watched
// for while someone waits on it (Done, or context.AfterFunc through the
// AfterFunc method), from watchDelay after they started: watching costs a
// goroutine and two deadline changes per request, which net/http pays on
// every request and most requests here never need. Its values are its
// connection's.
type requestContext struct {
	base    context.Context
	c       *conn
	refusal *Refusal

	mu     sync.Mutex
	done   chan struct{}
	err    error
	afters []*afterFunc
}

func (x *requestContext) Deadline() (time.Time, bool) { return time.Time{}, false }

func (x *requestContext) Value(key any) any { return x.base.Value(key) }

func (x *requestContext) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (x *requestContext) Done() <-chan struct{} {
	x.mu.Lock()
	if x.done == nil {
		x.done = make(chan struct{})
		if x.err != nil {
			close(x.done)
		}
	}
	done, ended := x.done, x.err != nil
	x.mu.Unlock()
	if !ended {
		x.c.wantWatch(x)
	}
	return done
}

// AfterFunc is what context.AfterFunc, and contexts derived from this one,
// use instead of a goroutine waiting on Done.
func (x *requestContext) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	x.mu.Lock()
	ended := x.err != nil
	if !ended {
		x.afters = append(x.afters, a)
	}
	x.mu.Unlock()
	if ended {
		a.run()
	} else {
		x.c.wantWatch(x)
	}
	return a.stop
}

func (x *requestContext) String() string { return "http1.requestContext" }

// cancel ends the context with err, once.
func (x *requestContext) cancel(err error) {
	x.mu.Lock()
	if x.err != nil {
		x.mu.Unlock()
		return
	}
	x.err = err
	if x.done != nil {
		close(x.done)
	}
	afters := x.afters
	x.afters = nil
	x.mu.Unlock()
	for _, a := range afters {
		a.run()
	}
}

// afterFunc is a function to call, on its own goroutine, when a context
// ends, unless stopped first.
type afterFunc struct {
	f     func()
	state atomic.Int32 // 0 pending, 1 run, 2 stopped
}

func (a *afterFunc) run() {
	if a.state.CompareAndSwap(0, 1) {
		go a.f()
	}
}

func (a *afterFunc) stop() bool { return a.state.CompareAndSwap(0, 2) }

// aLongTimeAgo is a deadline in the past: it interrupts a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// watchDelay is how long a request must still be running, once someone
// waits on its context, before its connection is watched for the client
// leaving: a request that ends sooner never pays for the watch (a
// goroutine and its wake-up, two deadline changes), and one that runs on —
// a model writing its answer for seconds — is watched from then on.
const watchDelay = 5 * time.Millisecond

// wantWatch asks for x's connection to be watched for the client leaving,
// watchDelay from now, once its body has been read (before that, the
// handler reads the connection itself).
func (c *conn) wantWatch(x *requestContext) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != x || c.finished || c.watchWanted {
		return
	}
	c.watchWanted = true
	if c.bodyDone {
		c.armWatchLocked()
	}
}

// bodyEnded is told that the request body was read to its end.
func (c *conn) bodyEnded() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bodyDone = true
	if c.watchWanted && !c.finished {
		c.armWatchLocked()
	}
}

// armWatchLocked starts the watch watchDelay from now, if the request is
// still running then. c.mu is held.
func (c *conn) armWatchLocked() {
	if c.watchTimer == nil {
		c.watchTimer = time.AfterFunc(watchDelay, c.watchLater)
		return
	}
	c.watchTimer.Reset(watchDelay)
}

func (c *conn) watchLater() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watchWanted && c.bodyDone && !c.finished {
		c.startWatchLocked()
	}
}

// startWatchLocked starts a goroutine reading the connection: an error
// (the client closed or reset it) cancels the request's context; a byte
// (the client sent its next request already) is kept for the next head,
// and ends the watch. Bytes already buffered mean the same. c.mu is held.
func (c *conn) startWatchLocked() {
	if c.watching || c.raw.stashed || c.br.Buffered() > 0 {
		return
	}
	c.watching, c.watchStopped = true, false
	c.watchDone = make(chan struct{})
	c.readDeadline, c.ourDeadline = time.Time{}, false
	_ = c.rwc.SetReadDeadline(time.Time{})
	go c.watch(c.ctx, c.watchDone)
}

func (c *conn) watch(x *requestContext, done chan struct{}) {
	defer close(done)
	n, err := c.rwc.Read(c.raw.stash[:])
	c.mu.Lock()
	if n > 0 {
		c.raw.stashed = true
	}
	// A timeout is a deadline the handler set (http.ResponseController),
	// not the client leaving: the watch just ends.
	var ne net.Error
	gone := err != nil && !c.watchStopped && !(errors.As(err, &ne) && ne.Timeout())
	if gone {
		c.clientGone = true
	}
	c.watching = false
	c.mu.Unlock()
	if gone {
		x.cancel(context.Canceled)
	}
}

// stopWatch ends the watch, if any, and starts no other for this request:
// the handler returned, or took the connection over.
func (c *conn) stopWatch() {
	c.mu.Lock()
	c.finished = true
	if c.watchTimer != nil {
		c.watchTimer.Stop()
	}
	if !c.watching {
		c.mu.Unlock()
		return
	}
	c.watchStopped = true
	done := c.watchDone
	c.mu.Unlock()
	_ = c.rwc.SetReadDeadline(aLongTimeAgo)
	<-done
	c.setReadDeadline(time.Time{}, false)
}
