// Package server is the data plane: per bound address, an HTTP/1.1 server
// of our own (package http1) and net/http's HTTP/2 server, every one
// serving the active snapshot. Apply swaps in a new snapshot with
// zero dropped requests: new addresses are bound before the swap, requests in
// flight finish on the snapshot they started with, and listeners a policy no
// longer has are drained, not cut.
package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/certs"
	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/monitor/detect"
	"github.com/portcullis/portcullis/internal/requestid"
	"github.com/portcullis/portcullis/internal/server/http1"
	"github.com/portcullis/portcullis/internal/shadow"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/tracing"
)

// Timeouts against slow and idle clients.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	// maxConcurrentStreams bounds the HTTP/2 streams one connection may
	// have open at once (net/http's default).
	maxConcurrentStreams = 250
	// certCheckInterval is how often the certificate files of HTTPS
	// listeners are checked for changes (CONTRACT §2: within 2 s).
	certCheckInterval = time.Second
	// DrainTimeout bounds how long a listener that is going away, or the whole
	// server on SIGTERM, waits for requests in flight.
	DrainTimeout = 10 * time.Second
)

// Server runs the listeners of the active snapshot.
type Server struct {
	// OnRequest is told of every completed request (anomaly detection);
	// set it before the first Apply. It must not block.
	OnRequest func(detect.Event)
	// OnAudit is handed the audit record of every completed request,
	// refused and unmatched ones included; set it before the first Apply.
	// It must not block.
	OnAudit func(audit.Record)
	// Tracer, when set, traces every request (see package tracing); set it
	// before the first Apply.
	Tracer *tracing.Tracer

	holder    *snapshot.Holder
	shadow    *shadow.Holder
	log       *slog.Logger
	metrics   *metrics.Gateway
	unmatched *metrics.Route

	mu        sync.Mutex // serializes Apply and Shutdown
	listeners map[string]*bound
	alog      atomic.Pointer[accesslog.Logger]
	alogConf  snapshot.AccessLog
	draining  sync.WaitGroup
}

// bound is one address being served.
type bound struct {
	ln  *edgeListener
	srv *http1.Server // HTTP/1.1, cleartext and over TLS
	h2  *http.Server  // HTTP/2, on TLS connections that negotiated h2
	// certProblem is the last failure to reload the listener's
	// certificates, so that it is logged once, not every second; s.mu.
	certProblem string
}

// New makes a Server. Nothing is served before the first Apply. While a
// candidate policy is shadowed (shadows holds a run), every request is also
// decided by it.
func New(holder *snapshot.Holder, shadows *shadow.Holder, m *metrics.Gateway, log *slog.Logger) *Server {
	return &Server{
		holder:    holder,
		shadow:    shadows,
		log:       log,
		metrics:   m,
		unmatched: m.Route(metrics.Unmatched),
		listeners: map[string]*bound{},
	}
}

// Apply makes next the active snapshot. If an address of next cannot be bound,
// nothing changes and the error says which.
func (s *Server) Apply(next *snapshot.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	fresh := map[string]*bound{}
	for _, l := range next.Listeners {
		if s.listeners[l.Addr] != nil {
			continue
		}
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			for _, b := range fresh {
				_ = b.ln.Close()
			}
			return fmt.Errorf("listener %s: %w", l.Name, err)
		}
		fresh[l.Addr] = &bound{ln: newEdgeListener(ln, s.log), srv: s.newHTTPServer(l.Addr), h2: s.newH2Server(l.Addr)}
	}
	oldLog, err := s.reopenAccessLog(next.AccessLog)
	if err != nil {
		for _, b := range fresh {
			_ = b.ln.Close()
		}
		return fmt.Errorf("access log: %w", err)
	}

	prev := s.holder.Swap(next)

	// Each address takes its listener's TLS, or none, for the connections
	// it accepts from now on; those already open keep theirs.
	for _, l := range next.Listeners {
		b := fresh[l.Addr]
		if b == nil {
			b = s.listeners[l.Addr]
		}
		b.ln.tls.Store(l.TLS)
	}
	for addr, b := range fresh {
		s.listeners[addr] = b
		go s.serve(b)
		s.log.Info("listening", "listener", next.ListenerByAddr(addr).Name, "addr", b.ln.Addr().String())
	}
	for addr, b := range s.listeners {
		if next.ListenerByAddr(addr) == nil {
			delete(s.listeners, addr)
			s.drain(b)
		}
	}
	s.metrics.SetListeners(len(s.listeners))
	if prev != nil {
		prev.Release(next)
	}
	if oldLog != nil {
		// Lines queued by requests still on the old logger are written first.
		go func() { _ = oldLog.Close() }()
	}
	return nil
}

// reopenAccessLog switches the access log when its setting changed and
// returns the logger to close once requests stop using it.
func (s *Server) reopenAccessLog(conf snapshot.AccessLog) (*accesslog.Logger, error) {
	current := s.alog.Load()
	if conf == s.alogConf && (current != nil) == conf.Enabled {
		return nil, nil
	}
	var next *accesslog.Logger
	if conf.Enabled {
		var err error
		next, err = accesslog.Open(conf.Path, s.metrics.AccessLogDropped)
		if err != nil {
			return nil, err
		}
	}
	s.alog.Store(next)
	s.alogConf = conf
	return current, nil
}

func (s *Server) accessLog() *accesslog.Logger { return s.alog.Load() }

// newHTTPServer makes the HTTP/1.1 server of one address (cleartext, and
// TLS connections that did not negotiate h2). Heads it cannot read get a
// problem+json answer; those it read but will not take reach the edge,
// which refuses them (see checkHTTP).
func (s *Server) newHTTPServer(addr string) *http1.Server {
	return &http1.Server{
		Handler:           &edge{addr: addr, srv: s},
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorAnswer: func(status int, detail string) (http.Header, []byte) {
			// Every response has a request id (CONTRACT §3), these too.
			id := requestid.New()
			return http.Header{"Content-Type": {"application/problem+json"}, requestid.Header: {id}}, httperr.Render(status, detail, id)
		},
		Log: s.log,
	}
}

// newH2Server makes the HTTP/2 server of one address. Its connections are
// TLS ones that negotiated h2, handed over already decrypted (an h2Conn),
// so net/http serves them as HTTP/2 with prior knowledge. Requests get the
// same chain and header limits as HTTP/1.1 from the edge; these settings
// bound what one connection may hold open.
func (s *Server) newH2Server(addr string) *http.Server {
	srv := &http.Server{
		Handler:           &edge{addr: addr, srv: s},
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          log.New(serverLog{s.log}, "", 0),
		ConnContext:       withH2Conn,
		Protocols:         new(http.Protocols),
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: maxConcurrentStreams,
			MaxReadFrameSize:     16 << 10, // the protocol's default: a larger frame is a FRAME_SIZE_ERROR
		},
	}
	srv.Protocols.SetUnencryptedHTTP2(true)
	return srv
}

func (s *Server) serve(b *bound) {
	go func() {
		if err := b.h2.Serve(b.ln.H2()); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("listener stopped", "addr", b.ln.Addr().String(), "error", err)
		}
	}()
	// The listener is shared: the HTTP/2 server's shutdown may close it first.
	if err := b.srv.Serve(b.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		s.log.Error("listener stopped", "addr", b.ln.Addr().String(), "error", err)
	}
}

// shutdown stops b's servers accepting and waits for their requests until
// ctx ends, then cuts them.
func (b *bound) shutdown(ctx context.Context) error {
	var h2err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if h2err = b.h2.Shutdown(ctx); h2err != nil {
			_ = b.h2.Close()
		}
	}()
	err := b.srv.Shutdown(ctx)
	if err != nil {
		_ = b.srv.Close()
	}
	<-done
	return errors.Join(err, h2err)
}

// drain stops accepting on b and lets its requests finish in the background.
func (s *Server) drain(b *bound) {
	s.draining.Add(1)
	go func() {
		defer s.draining.Done()
		ctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
		defer cancel()
		_ = b.shutdown(ctx)
		s.log.Info("listener closed", "addr", b.ln.Addr().String())
	}()
}

// WatchCertificates reloads the certificates of HTTPS listeners whose files
// changed, every certCheckInterval, until ctx ends.
func (s *Server) WatchCertificates(ctx context.Context) {
	tick := time.NewTicker(certCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.ReloadCertificates()
		}
	}
}

// ReloadCertificates re-reads the certificate files of every HTTPS
// listener and, where they changed and load, serves them to new
// connections; open connections keep theirs. Files that fail to load are
// logged, and the certificates already loaded keep serving.
func (s *Server) ReloadCertificates() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.listeners {
		cur := b.ln.tls.Load()
		if cur == nil {
			continue
		}
		next, err := certs.Reload(cur)
		if err != nil {
			if problem := err.Error(); problem != b.certProblem {
				b.certProblem = problem
				s.log.Error("certificates not reloaded; the loaded ones keep serving", "addr", b.ln.Addr().String(), "error", err)
			}
			continue
		}
		b.certProblem = ""
		if next == nil {
			continue
		}
		b.ln.tls.CompareAndSwap(cur, next)
		s.log.Info("certificates reloaded", "addr", b.ln.Addr().String())
	}
}

// Addrs returns the actual address of every listener by its configured address
// (they differ when a configured port is 0).
func (s *Server) Addrs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.listeners))
	for addr, b := range s.listeners {
		out[addr] = b.ln.Addr().String()
	}
	return out
}

// Shutdown stops accepting, waits for requests in flight (until ctx ends, then
// cuts them), and flushes the access log.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var wg sync.WaitGroup
	var errs []error
	var errMu sync.Mutex
	for addr, b := range s.listeners {
		delete(s.listeners, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.shutdown(ctx); err != nil {
				errMu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", addr, err))
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.draining.Wait()
	if l := s.alog.Swap(nil); l != nil {
		_ = l.Close()
	}
	return errors.Join(errs...)
}

// serverLog is net/http's error log for the data plane: what a client
// alone causes — a malformed HTTP/2 frame, a connection it cut — goes to
// DEBUG, so that no client can fill the log; the rest (the server's own
// trouble) to WARN.
type serverLog struct{ log *slog.Logger }

// clientCaused are the prefixes of net/http's messages about a client's
// misbehaviour.
var clientCaused = []string{
	"http2: server connection error from ",
	"http2: received GOAWAY",
	"http: TLS handshake error from ",
	"http2: server: error reading preface from client ",
	"http2: server closing client connection",
}

func (l serverLog) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelWarn
	for _, prefix := range clientCaused {
		if strings.HasPrefix(msg, prefix) {
			level = slog.LevelDebug
			break
		}
	}
	l.log.Log(context.Background(), level, msg)
	return len(p), nil
}
