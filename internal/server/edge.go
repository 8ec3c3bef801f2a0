package server

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/accesslog"
	"github.com/portcullis/portcullis/internal/ai"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/monitor/detect"
	"github.com/portcullis/portcullis/internal/proxy"
	"github.com/portcullis/portcullis/internal/requestid"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/tracing"
)

// edge is the http.Handler of one bound address: it takes a request from the
// listener to its route's upstream, on the snapshot active when it arrived.
type edge struct {
	addr string
	srv  *Server
}

func (e *edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	snap := e.srv.holder.Load()
	reqID := requestid.FromHeader(r.Header[requestid.Header])
	w.Header()[requestid.Header] = []string{reqID}
	clientIP, peerIP, priorXFF := clientAddr(r, snap.TrustedProxies)

	entry := accesslog.Entry{
		Time: start, RequestID: reqID, Method: r.Method, Path: r.URL.Path,
		Route: metrics.Unmatched, ClientIP: clientIP,
	}
	facts := requestFacts{version: snap.Version, query: r.URL.RawQuery}
	if t := e.srv.Tracer; t != nil {
		facts.span = t.StartRequest(r, start)
	}
	var routeMetrics *metrics.Route
	var res proxy.Result
	ln := snap.ListenerByAddr(e.addr)
	if ln != nil {
		entry.Listener = ln.Name
		if ln.HSTS != "" {
			w.Header()["Strict-Transport-Security"] = []string{ln.HSTS}
		}
	}
	if r.TLS == nil && r.ProtoMajor == 2 {
		r.TLS = h2TLS(r) // the rest of the chain reads r.TLS
	}
	// policyDecision is the chain's decision before the input steps and the
	// upstream ("" when no policy decided): what a shadow compares, since
	// the candidate is not given the body.
	policyDecision := ""
	herr := checkHTTP(r, snap.MaxHeaderBytes)
	switch {
	case herr != nil:
		// Ambiguous or oversized HTTP: refused before any policy sees it.
	case ln == nil:
		// The listener was removed by a reload and is draining.
		herr = httperr.New(http.StatusServiceUnavailable, httperr.DecisionNotFound, "listener is shutting down", nil)
		herr.Header = http.Header{"Connection": {"close"}}
	default:
		d := snap.Decide(ln, r, clientIP)
		policyDecision = httperr.DecisionAllowed
		if d.Err != nil {
			policyDecision = d.Err.Decision
		}
		if d.Path != "" {
			entry.Path = d.Path
		}
		entry.Consumer = d.Identity.Consumer
		facts.keyID = d.Identity.KeyID
		herr = d.Err
		if d.Route != nil {
			entry.Route = d.Route.Name
			routeMetrics = d.Route.Metrics
			if herr != nil && herr.Decision == httperr.DecisionUnauthenticated {
				facts.unknownKey = credentialFingerprint(r, d.Route)
			}
		}
		if d.Limited && herr == nil {
			snapshot.SetRateLimitHeaders(w.Header(), d.RateLimit)
		}
		if herr == nil {
			herr = limitBody(w, r, d.Route.MaxBodyBytes, snap.BodyIdleTimeout)
		}
		if herr == nil {
			herr, facts.wafHit = checkInput(r, d, clientIP, reqID)
		}
		if herr == nil {
			defer e.recordAbort(&entry, routeMetrics, &facts)
			if d.Route.AI != nil {
				herr, res = serveAI(w, r, d, reqID, clientIP, &facts)
			} else {
				herr, res = forward(w, r, d, reqID, peerIP, priorXFF, start, facts.span)
			}
		}
	}
	if herr != nil {
		httperr.Write(w, herr, reqID)
		res.Status = herr.Status
		entry.Decision = herr.Decision
		facts.reason = herr.Public
		if herr.Cause != nil {
			level := slog.LevelDebug
			if herr.Status >= 500 {
				level = slog.LevelWarn
			}
			e.srv.log.Log(r.Context(), level, "request failed", "requestId", reqID, "route", entry.Route, "status", herr.Status, "cause", herr.Cause)
		}
	} else {
		entry.Decision = httperr.DecisionAllowed
	}
	entry.Status = res.Status
	entry.Bytes = res.BytesWritten
	entry.UpstreamLatency = res.UpstreamLatency
	// The answer is complete: send it before the bookkeeping, whose
	// hand-offs to the audit writer and anomaly detection may let other
	// goroutines run first. (HTTP/1.1 only: on HTTP/2 a flush would cost
	// the stream an extra frame.)
	if f, ok := w.(finisher); ok {
		_ = f.Finish()
	}
	e.record(&entry, routeMetrics, &facts)
	if run := e.srv.shadow.Load(); run != nil && policyDecision != "" {
		route := entry.Route
		if routeMetrics == nil {
			route = ""
		}
		run.Observe(entry.Listener, r, clientIP, route, policyDecision)
	}
}

// finisher is the HTTP/1.1 server's ResponseWriter: Finish sends the
// whole answer before the handler returns.
type finisher interface{ Finish() error }

// checkInput runs the route's input steps — validation, then the WAF — on
// a request the rest of the chain admitted, reading the body whole (within
// the route's limit) first when a step needs it; the upstream then gets the
// buffered copy.
// It also reports whether the WAF's anomaly threshold was reached.
func checkInput(r *http.Request, d snapshot.Decision, clientIP, reqID string) (*httperr.Error, bool) {
	if herr := d.Route.CheckHead(r, d.Path); herr != nil || !d.Route.NeedsBody() {
		return herr, false
	}
	body, herr := readLimited(r, d.Route.MaxBodyBytes)
	if herr != nil {
		return herr, false
	}
	herr, verdict := d.Route.CheckBody(r, d.Path, clientIP, body)
	d.Route.ReportWAF(reqID, verdict)
	return herr, verdict.Status != 0
}

// credentialFingerprint identifies the credential a refused request
// presented where its route reads one (the first 16 hex digits of its
// SHA-256), so that anomaly detection can count distinct unknown keys from
// one client without ever holding a key; "" when none was presented.
func credentialFingerprint(r *http.Request, rt *snapshot.Route) string {
	var cred string
	if rt.StripHeader != "" {
		cred = r.Header.Get(rt.StripHeader)
	}
	if cred == "" && rt.StripQuery != "" {
		cred = r.URL.Query().Get(rt.StripQuery)
	}
	if cred == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(cred))
	return hex.EncodeToString(sum[:8])
}

// requestFacts are what the audit record and anomaly detection need of a
// request beyond its access log entry.
type requestFacts struct {
	version    int64            // the policy version of the request's snapshot
	query      string           // the raw query, redacted by the audit writer
	keyID      string           // the API key used, if any
	reason     string           // the refusal's public detail
	unknownKey string           // a fingerprint of a credential that did not authenticate
	wafHit     bool             // the WAF's anomaly threshold was reached
	span       *tracing.Request // the request's server span; nil when tracing is off
	ai         *ai.Facts        // an AI call's provider, model, usage and cost
	injection  bool             // the AI guard's prompt-injection heuristics matched
}

// record counts a finished request in the metrics, queues its access log
// line and its audit record, and hands it to anomaly detection — every
// finished request, those cut off mid-response included.
func (e *edge) record(entry *accesslog.Entry, routeMetrics *metrics.Route, facts *requestFacts) {
	entry.Latency = time.Since(entry.Time)
	route := entry.Route // anomaly detection's: "" when no route matched
	if routeMetrics == nil {
		routeMetrics, route = e.srv.unmatched, ""
	}
	routeMetrics.Observe(entry.Status, entry.Decision, entry.Latency, entry.UpstreamLatency)
	e.srv.accessLog().Log(*entry)
	if rec := e.srv.OnAudit; rec != nil {
		rec(audit.Record{
			Time: entry.Time, RequestID: entry.RequestID, Listener: entry.Listener, Method: entry.Method,
			Path: entry.Path, Query: facts.query, Route: entry.Route, Consumer: entry.Consumer, KeyID: facts.keyID,
			ClientIP: entry.ClientIP, Status: entry.Status, Decision: entry.Decision, Reason: facts.reason,
			PolicyVersion: facts.version, Latency: entry.Latency, AI: auditAI(facts.ai),
		})
	}
	if observe := e.srv.OnRequest; observe != nil {
		observe(detect.Event{Time: entry.Time, ClientIP: entry.ClientIP, Consumer: entry.Consumer, Route: route, Path: entry.Path,
			Status: entry.Status, Decision: entry.Decision, UnknownKeyHash: facts.unknownKey, WAFMatched: facts.wafHit,
			KeyID: facts.keyID, Tokens: facts.ai.Tokens(), PromptInjection: facts.injection})
	}
	if facts.span != nil {
		facts.span.End(tracing.Facts{Route: route, Path: audit.RedactPath(entry.Path, ""), ClientIP: entry.ClientIP,
			Consumer: entry.Consumer, RequestID: entry.RequestID, Decision: entry.Decision, Status: entry.Status,
			PolicyVersion: facts.version}, entry.Time.Add(entry.Latency))
	}
}

// recordAbort records a response that was cut off after it started (the
// upstream or the client failed mid-body): the client's connection is closed,
// and the request still shows in the metrics and the access log.
func (e *edge) recordAbort(entry *accesslog.Entry, routeMetrics *metrics.Route, facts *requestFacts) {
	if p := recover(); p != nil {
		if p == http.ErrAbortHandler {
			entry.Status = http.StatusBadGateway
			entry.Decision = httperr.DecisionUpstreamError
			e.record(entry, routeMetrics, facts)
		}
		panic(p)
	}
}

// serveAI answers a request on an ai route: the route's front calls its
// providers and writes the answer itself.
func serveAI(w http.ResponseWriter, r *http.Request, d snapshot.Decision, reqID, clientIP string, facts *requestFacts) (*httperr.Error, proxy.Result) {
	call := ai.Call{RequestID: reqID, Consumer: d.Identity.Consumer, KeyID: d.Identity.KeyID, ClientIP: clientIP, Path: d.Path}
	if span := facts.span; span != nil {
		// The provider gets no trace context: its span is ours alone.
		call.Span = func(provider string) func(int) {
			_, _, end := span.Upstream("AIProvider " + provider)
			return end
		}
	}
	out := d.Route.AI.Serve(w, r, call)
	facts.ai, facts.injection = out.AI, len(out.Injection) > 0
	if out.Err != nil {
		return out.Err, proxy.Result{}
	}
	return nil, proxy.Result{Status: out.Status, BytesWritten: out.Bytes}
}

// auditAI is an AI call's part of its audit record (nil for other calls).
func auditAI(f *ai.Facts) *store.AuditAI {
	if f == nil {
		return nil
	}
	usage := "provider"
	if f.Estimated {
		usage = "estimated"
	}
	return &store.AuditAI{Provider: f.Provider, Model: f.Model, PromptTokens: f.PromptTokens, CompletionTokens: f.CompletionTokens,
		CostUSD: f.CostUSD, Usage: usage, Ended: f.Ended}
}

// forward sends the request to route's upstream. It returns an error only when
// nothing was written to the client yet.
// peerIP is appended to X-Forwarded-For after the chain a trusted peer sent.
// span, when tracing, gets a client span around the upstream call.
func forward(w http.ResponseWriter, r *http.Request, d snapshot.Decision, reqID, peerIP, priorXFF string, start time.Time, span *tracing.Request) (herr *httperr.Error, res proxy.Result) {
	route, path := d.Route, d.Route.UpstreamPath(d.Path)
	fwd := proxy.Forwarding{
		Path:              path,
		RequestID:         reqID,
		ClientIP:          peerIP,
		PriorForwardedFor: priorXFF,
		Proto:             "http",
		Host:              r.Host,
		Timeout:           route.Timeout,
		AllowWebSocket:    route.WebSocket,
		StripHeader:       route.StripHeader,
		StripQuery:        route.StripQuery,
	}
	if id := d.Identity; id.Consumer != "" {
		// The identity the upstream may trust: client-sent X-Consumer-*
		// copies are always dropped by the proxy.
		fwd.ExtraHeaders = [][2]string{{"X-Consumer-Name", id.Consumer}, {"X-Consumer-Roles", strings.Join(id.Roles, ",")}}
	}
	if r.TLS != nil {
		fwd.Proto = "https"
	}
	if priorXFF != "" {
		// A trusted proxy's own view of the scheme and host is kept.
		if v := r.Header.Get("X-Forwarded-Proto"); v == "http" || v == "https" {
			fwd.Proto = v
		}
		if v := r.Header.Get("X-Forwarded-Host"); v != "" {
			fwd.Host = v
		}
	}
	if span != nil {
		var end func(status int)
		fwd.TraceParent, fwd.TraceState, end = span.Upstream(route.Upstream.Name())
		// Deferred: a response cut off mid-body panics out of Forward, and
		// its span still ends, as an error.
		defer func() {
			status := res.Status
			if herr != nil {
				status = 0 // the upstream did not answer
			}
			end(status)
		}()
	}
	w.Header()["Server-Timing"] = []string{serverTiming(time.Since(start))}
	res, err := route.Upstream.Forward(w, r, &fwd)
	if err != nil {
		delete(w.Header(), "Server-Timing")
		return httperr.As(err), res
	}
	return nil, res
}

// serverTiming renders the gateway's own time before the upstream call.
func serverTiming(d time.Duration) string {
	us := d.Microseconds()
	b := make([]byte, 0, 24)
	b = append(b, "gateway;dur="...)
	b = strconv.AppendInt(b, us/1000, 10)
	b = append(b, '.')
	frac := us % 1000
	b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return string(b)
}

// clientAddr returns the client's IP, the peer's IP and, when the peer is a
// trusted proxy, the X-Forwarded-For chain it sent. The client is the
// right-most address in that chain that is not itself a trusted proxy; anyone
// else's X-Forwarded-For is ignored.
func clientAddr(r *http.Request, trusted []netip.Prefix) (client, peer, priorXFF string) {
	peer = r.RemoteAddr
	ap, err := netip.ParseAddrPort(peer)
	if err == nil {
		peer = r.RemoteAddr[:strings.LastIndexByte(r.RemoteAddr, ':')]
		peer = strings.TrimSuffix(strings.TrimPrefix(peer, "["), "]")
	}
	if len(trusted) == 0 || err != nil || !isTrusted(ap.Addr(), trusted) {
		return peer, peer, ""
	}
	xff := r.Header["X-Forwarded-For"]
	if len(xff) == 0 {
		return peer, peer, ""
	}
	chain := strings.Join(xff, ", ")
	client = peer
	rest := chain
	for rest != "" {
		i := strings.LastIndexByte(rest, ',')
		hop := strings.TrimSpace(rest[i+1:])
		rest = rest[:max(i, 0)]
		a, err := netip.ParseAddr(hop)
		if err != nil {
			break // garbage: stop at the last address we could read
		}
		client = a.Unmap().String()
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client, peer, chain
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
