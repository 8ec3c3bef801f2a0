package http1

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestContextCanceledAfterHandler pins that a request's context is
// canceled once its handler returned (and not before).
func TestContextCanceledAfterHandler(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.Context().Err(); err != nil {
			t.Errorf("context already ended in the handler: %v", err)
		}
		ctxs <- r.Context()
	})})
	c := ts.dial()
	c.get("/", http.StatusOK)
	ctx := recv(t, ctxs)
	select {
	case <-ctx.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the context was not canceled after the handler returned")
	}
	if ctx.Err() != context.Canceled {
		t.Errorf("Err: %v, want context.Canceled", ctx.Err())
	}
	if _, ok := ctx.Deadline(); ok {
		t.Error("the context has a deadline")
	}
	c.expectOpen()
}

// TestContextCanceledWhenClientLeaves pins that a handler waiting on its
// request's context sees it canceled when the client closes the
// connection, before the handler returns.
func TestContextCanceledWhenClientLeaves(t *testing.T) {
	for _, tt := range []struct{ name, req string }{
		{"no body", "GET / HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"body read first", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			waiting := newSignal()
			errs := make(chan error, 1)
			ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				done := r.Context().Done()
				waiting.fire()
				select {
				case <-done:
					errs <- r.Context().Err()
				case <-time.After(waitTimeout):
					errs <- nil
				}
			})})
			leaveWhileWaiting(t, ts, tt.req, waiting, errs)
		})
	}
}

// TestContextAfterFunc pins context.AfterFunc on a request's context: the
// function runs when the client goes away while the handler runs; once
// stopped before, it never runs, and stop reports that it stopped it.
func TestContextAfterFunc(t *testing.T) {
	t.Run("client leaves", func(t *testing.T) {
		registered := newSignal()
		ran := newSignal()
		ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			context.AfterFunc(r.Context(), ran.fire)
			registered.fire()
			ran.wait()
		})})
		c := ts.dial()
		c.write("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		if !registered.wait() {
			t.Fatal("the handler did not run")
		}
		_ = c.conn.Close()
		if !ran.wait() {
			t.Error("the AfterFunc did not run when the client left")
		}
	})
	t.Run("stopped", func(t *testing.T) {
		ran := newSignal()
		stopped := make(chan bool, 1)
		ctxs := make(chan context.Context, 1)
		ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			stop := context.AfterFunc(r.Context(), ran.fire)
			stopped <- stop()
			ctxs <- r.Context()
		})})
		c := ts.dial()
		c.get("/", http.StatusOK)
		if !recv(t, stopped) {
			t.Error("stop returned false before the context ended")
		}
		<-recv(t, ctxs).Done()
		select {
		case <-ran.ch:
			t.Error("a stopped AfterFunc ran")
		case <-time.After(100 * time.Millisecond):
		}
		c.expectOpen()
	})
	t.Run("runs when the handler returns", func(t *testing.T) {
		ran := newSignal()
		ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			context.AfterFunc(r.Context(), ran.fire)
		})})
		ts.dial().get("/", http.StatusOK)
		if !ran.wait() {
			t.Error("the AfterFunc did not run after the handler returned")
		}
	})
}

// TestContextDerived pins that a context derived from the request's
// (context.WithCancel, as most libraries do) is canceled when the client
// leaves.
func TestContextDerived(t *testing.T) {
	waiting := newSignal()
	errs := make(chan error, 1)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), waitTimeout)
		defer cancel()
		waiting.fire()
		<-ctx.Done()
		errs <- ctx.Err()
	})})
	leaveWhileWaiting(t, ts, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", waiting, errs)
}

// leaveWhileWaiting sends req, waits for the handler to signal that it
// waits on its context, closes the connection, and checks that the
// handler then reports context.Canceled on errs.
func leaveWhileWaiting(t *testing.T, ts *testServer, req string, waiting *signal, errs <-chan error) {
	t.Helper()
	c := ts.dial()
	c.write(req)
	if !waiting.wait() {
		t.Fatal("the handler did not run")
	}
	_ = c.conn.Close()
	if err := recv(t, errs); err != context.Canceled {
		t.Errorf("the handler's context ended with %v, want context.Canceled", err)
	}
}

// TestContextPipelinedWithoutWatch pins that a handler that never waits on
// its context is not affected by the next request arriving while it
// runs: it is served afterwards.
func TestContextPipelinedWithoutWatch(t *testing.T) {
	entered, release := newSignal(), newSignal()
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			entered.fire()
			release.wait()
		}
		_, _ = io.WriteString(w, r.URL.Path)
	})})
	c := ts.dial()
	c.write("GET /first HTTP/1.1\r\nHost: h\r\n\r\n")
	if !entered.wait() {
		t.Fatal("the handler did not run")
	}
	c.write("GET /second HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(20 * time.Millisecond)
	release.fire()
	for _, want := range []string{"/first", "/second"} {
		if _, body := c.response(http.MethodGet); body != want {
			t.Errorf("answer %q, want %q", body, want)
		}
	}
}

// TestContextPipelinedWhileWatching pins that when a handler waits on its
// context and the client sends its next request meanwhile, the context
// is not canceled (the client did not leave) and the byte the watcher
// read is not lost: the next request is answered correctly. The next
// request arrives with the first (buffered: nothing to watch), or while
// the handler runs (the watcher reads its first byte).
func TestContextPipelinedWhileWatching(t *testing.T) {
	for _, together := range []bool{true, false} {
		name := "sent while the handler runs"
		if together {
			name = "sent with the first"
		}
		t.Run(name, func(t *testing.T) {
			watching, proceed := newSignal(), newSignal()
			ended := make(chan error, 1)
			ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/first" {
					done := r.Context().Done()
					watching.fire()
					proceed.wait()
					if !together {
						waitStashed(t, r.Context())
						_ = r.Context().Done() // no second watcher to read on
						context.AfterFunc(r.Context(), func() {})
					}
					select {
					case <-done:
						ended <- r.Context().Err()
					default:
						ended <- nil
					}
				}
				_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-A"))
			})})
			c := ts.dial()
			first := "GET /first HTTP/1.1\r\nHost: h\r\n\r\n"
			second := "GET /second?x=1 HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n"
			if together {
				c.write(first + second)
			} else {
				c.write(first)
			}
			if !watching.wait() {
				t.Fatal("the handler did not run")
			}
			if !together {
				c.write(second)
			}
			proceed.fire()
			if err := recv(t, ended); err != nil {
				t.Errorf("the context ended with %v while the client was still there", err)
			}
			for _, want := range []string{"GET /first ", "GET /second b"} {
				if _, body := c.response(http.MethodGet); body != want {
					t.Errorf("answer %q, want %q", body, want)
				}
			}
			c.expectOpen()
		})
	}
}

// waitStashed waits until the connection watcher of ctx's request read
// the first byte of the next request (and stopped watching).
func waitStashed(t *testing.T, ctx context.Context) {
	t.Helper()
	x, ok := ctx.(*requestContext)
	if !ok {
		t.Fatalf("the request's context is a %T", ctx)
	}
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		x.c.mu.Lock()
		stashed, watching := x.c.raw.stashed, x.c.watching
		x.c.mu.Unlock()
		if stashed && !watching {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Error("the watcher did not read the next request's first byte")
}

// waitWatching waits until the connection watcher of ctx's request is
// reading.
func waitWatching(t *testing.T, ctx context.Context) {
	t.Helper()
	x := ctx.(*requestContext)
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		x.c.mu.Lock()
		watching := x.c.watching
		x.c.mu.Unlock()
		if watching {
			time.Sleep(10 * time.Millisecond) // into its Read
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Error("the watcher did not start")
}

// TestContextLocalAddr pins that the request's context holds the
// connection's local address under http.LocalAddrContextKey.
func TestContextLocalAddr(t *testing.T) {
	addrs := make(chan any, 1)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addrs <- r.Context().Value(http.LocalAddrContextKey)
	})})
	c := ts.dial()
	c.get("/", http.StatusOK)
	addr, ok := recv(t, addrs).(net.Addr)
	if !ok || addr.String() != c.conn.RemoteAddr().String() {
		t.Errorf("local address %v, want %v", addr, c.conn.RemoteAddr())
	}
}

// TestServeTLS pins that a request on a TLS connection has r.TLS, the
// connection's state after its handshake, when Serve is given a
// tls.NewListener (whose connections do their handshake on first read,
// after Accept returned them).
func TestServeTLS(t *testing.T) {
	states := make(chan *tls.ConnectionState, 1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := serveOn(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		states <- r.TLS
		_, _ = io.WriteString(w, "secure")
	})}, tls.NewListener(l, selfSignedTLS(t)))
	conn, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, conn)
	if _, body := c.get("/", http.StatusOK); body != "secure" {
		t.Errorf("answer %q over TLS", body)
	}
	state := recv(t, states)
	if state == nil {
		t.Fatal("r.TLS is nil on a TLS connection")
	}
	if !state.HandshakeComplete || state.Version == 0 || state.CipherSuite == 0 || state.NegotiatedProtocol != "http/1.1" {
		t.Errorf("r.TLS is the state before the handshake: complete %v, version %#x, cipher suite %#x, ALPN %q",
			state.HandshakeComplete, state.Version, state.CipherSuite, state.NegotiatedProtocol)
	}
	c.get("/", http.StatusOK) // keep-alive over TLS
	recv(t, states)
}

// TestServeTLSHandshaken pins r.TLS for a connection handed over already
// handshaken (what the edge's listener does).
func TestServeTLSHandshaken(t *testing.T) {
	states := make(chan *tls.ConnectionState, 1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := serveOn(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		states <- r.TLS
	})}, &handshakingListener{Listener: l, config: selfSignedTLS(t)})
	conn, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, conn)
	c.get("/", http.StatusOK)
	if state := recv(t, states); state == nil || !state.HandshakeComplete || state.Version == 0 {
		t.Errorf("r.TLS %+v, want the handshake's state", state)
	}
}

// handshakingListener accepts TLS connections and completes their
// handshake before returning them.
type handshakingListener struct {
	net.Listener
	config *tls.Config
}

func (l *handshakingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := tls.Server(c, l.config)
		_ = tc.SetDeadline(time.Now().Add(clientTimeout))
		if err := tc.Handshake(); err != nil {
			_ = c.Close()
			continue
		}
		_ = tc.SetDeadline(time.Time{})
		return tc, nil
	}
}

// TestServeTLSHandshakeFails pins that a TLS connection whose handshake
// stalls (bounded by ReadHeaderTimeout) or fails is closed without an
// answer, and that the server goes on serving.
func TestServeTLSHandshakeFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := serveOn(t, &Server{Handler: okHandler, ReadHeaderTimeout: 300 * time.Millisecond}, tls.NewListener(l, selfSignedTLS(t)))
	ts.dial().expectClosed() // says nothing

	c := ts.dial()
	c.write("GET / HTTP/1.1\r\nHost: h\r\n\r\n") // not a ClientHello
	b, _ := io.ReadAll(c.br)
	if len(b) > 0 && b[0] == 'H' {
		t.Errorf("answered a cleartext request on a TLS listener: %q", b)
	}

	conn, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	newClient(t, conn).get("/", http.StatusOK)
}
